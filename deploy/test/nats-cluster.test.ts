/**
 * The production topology in miniature: three NATS servers (JetStream, links bucket with 3
 * replicas), one control plane, two redirect nodes attached to different servers. Losing any one
 * NATS server must not stop propagation, and the restarted server catches up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsNames } from '../../shared/index.js';
import { testPrefix, waitFor, type NatsCluster } from '../../shared/testing/index.js';
import { DOMAIN, waitForAnswer, type TestNode } from '../../data-plane/test/harness.js';
import { startClusterPlane, type ClusterPlane } from './cluster-plane.js';

const KEY = 'lp_cluster_test_admin_secret_000000000001';
const HOST = DOMAIN.hostname; // the host the node test client sends

describe('NATS cluster (3 servers, R3 bucket) with two nodes', () => {
  let plane: ClusterPlane | undefined;
  let cluster: NatsCluster;
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
    plane = await startClusterPlane({ name: 'cluster', prefix, adminKey: KEY });
    ({ cluster, api } = plane);
    nodes.push(...plane.nodes);
  }, 180_000);

  afterAll(async () => {
    await plane?.destroy();
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
