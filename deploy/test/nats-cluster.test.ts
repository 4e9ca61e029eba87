/**
 * The production topology in miniature: three NATS servers (JetStream, links bucket with 3
 * replicas), one control plane, two redirect nodes attached to different servers. Losing any one
 * NATS server must not stop propagation, and the restarted server catches up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsNames } from '../../shared/index.js';
import {
  createTestDatabase, freePort, startNatsCluster, startProcess, testPrefix, waitFor, waitForHttp,
  type NatsCluster, type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';
import { DOMAIN, startTestNode, waitForAnswer, type TestNode } from '../../data-plane/test/harness.js';

const KEY = 'lp_cluster_test_admin_secret_000000000001';
const HOST = DOMAIN.hostname; // the host the node test client sends

describe('NATS cluster (3 servers, R3 bucket) with two nodes', () => {
  let cluster: NatsCluster;
  let db: TestDatabase;
  let cp: RunningProcess;
  let api: string;
  const nodes: TestNode[] = [];
  const prefix = testPrefix('cluster');

  const create = async (path: string, destination: string) => {
    const r = await fetch(`${api}/v1/links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ domain: HOST, path, destination_url: destination }),
    });
    expect(r.status).toBe(201);
  };

  beforeAll(async () => {
    cluster = await startNatsCluster(3);
    db = await createTestDatabase('cluster');
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    cp = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: db.url, NATS_URL: cluster.urls, NATS_PREFIX: prefix, KV_REPLICAS: '3', BOOTSTRAP_ADMIN_KEY: KEY,
    });
    await waitForHttp(`${api}/readyz`, 200, 30_000);
    const d = await fetch(`${api}/v1/domains`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ hostname: HOST }) });
    expect(d.status).toBe(201);
    // each node prefers a different server
    const [a, b, c] = cluster.members.map((m) => m.url);
    nodes.push(await startTestNode({ natsUrl: [a, b, c].join(','), prefix, env: { WORKERS: '1' } }));
    nodes.push(await startTestNode({ natsUrl: [c, b, a].join(','), prefix, env: { WORKERS: '1' } }));
  }, 180_000);

  afterAll(async () => {
    for (const n of nodes) await n.destroy();
    await cp?.stop();
    await db?.drop();
    await cluster?.destroy();
  });

  it('the links bucket is replicated three times', async () => {
    const nc = await connect({ servers: cluster.urls.split(',') });
    const info = await (await jetstreamManager(nc)).streams.info(natsNames(prefix).linksStream);
    expect(info.config.num_replicas).toBe(3);
    expect(1 + (info.cluster?.replicas?.length ?? 0)).toBe(3);
    await nc.close();
  });

  it('links reach both nodes; with one NATS server down they still do; the server catches up when back', async () => {
    await create('before', 'https://example.org/before');
    for (const n of nodes) await waitForAnswer(n.port, '/before', 302, 'https://example.org/before', 10_000);

    const victim = cluster.members[0]!;
    await victim.stop('SIGKILL');
    await create('during', 'https://example.org/during');
    for (const n of nodes) await waitForAnswer(n.port, '/during', 302, 'https://example.org/during', 20_000);
    for (const n of nodes) await waitForAnswer(n.port, '/before', 302, 'https://example.org/before', 1000);

    await victim.start();
    await create('after', 'https://example.org/after');
    for (const n of nodes) await waitForAnswer(n.port, '/after', 302, 'https://example.org/after', 20_000);

    // the restarted server holds the whole bucket again
    await waitFor('victim caught up', async () => {
      const nc = await connect({ servers: victim.url, timeout: 1000, reconnect: false }).catch(() => null);
      if (!nc) return false;
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(natsNames(prefix).linksStream);
        return info.cluster?.replicas?.every((r) => r.current) ?? false;
      } catch {
        return false;
      } finally {
        await nc.close();
      }
    }, 30_000, 250);
  });
});
