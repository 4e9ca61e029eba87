/**
 * The production topology in miniature, for the cluster tests: three NATS servers (JetStream,
 * R3 links bucket), one control plane with a branded domain, and two redirect nodes that each
 * prefer a different server. `destroy()` stops everything in reverse order.
 */
import { expect } from 'vitest';
import {
  createTestDatabase, freePort, startNatsCluster, startProcess, waitForHttp,
  type NatsCluster, type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';
import { DOMAIN, startTestNode, type TestNode } from '../../data-plane/test/harness.js';

export interface ClusterPlane {
  cluster: NatsCluster;
  cp: RunningProcess;
  /** The control plane's base URL. */
  api: string;
  nodes: TestNode[];
  destroy(): Promise<void>;
}

export interface ClusterPlaneOptions {
  /** Names the test database. */
  name: string;
  prefix: string;
  adminKey: string;
  /** Extra control-plane environment. */
  cpEnv?: Record<string, string>;
  /** Extra node environment (WORKERS=1 is set). */
  nodeEnv?: Record<string, string>;
}

export async function startClusterPlane(o: ClusterPlaneOptions): Promise<ClusterPlane> {
  const nodes: TestNode[] = [];
  let cluster: NatsCluster | undefined;
  let db: TestDatabase | undefined;
  let cp: RunningProcess | undefined;
  const destroy = async () => {
    for (const n of nodes) await n.destroy();
    await cp?.stop();
    await db?.drop();
    await cluster?.destroy();
  };
  try {
    cluster = await startNatsCluster(3);
    db = await createTestDatabase(o.name);
    const port = await freePort();
    const api = `http://127.0.0.1:${port}`;
    cp = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: db.url, NATS_URL: cluster.urls, NATS_PREFIX: o.prefix, KV_REPLICAS: '3',
      BOOTSTRAP_ADMIN_KEY: o.adminKey, ...o.cpEnv,
    });
    // JetStream placing the R3 buckets after the cluster formed, and Postgres connects, took 15–40 s on
    // the shared 2-core machine at load ~30 (30 s was missed twice)
    await waitForHttp(`${api}/readyz`, 200, 90_000);
    const d = await fetch(`${api}/v1/domains`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hostname: DOMAIN.hostname }),
    });
    expect(d.status).toBe(201);
    // each node prefers a different server
    const [a, b, c] = cluster.members.map((m) => m.url);
    const env = { WORKERS: '1', ...o.nodeEnv };
    nodes.push(await startTestNode({ natsUrl: [a, b, c].join(','), prefix: o.prefix, env }));
    nodes.push(await startTestNode({ natsUrl: [c, b, a].join(','), prefix: o.prefix, env }));
    return { cluster, cp, api, nodes, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
