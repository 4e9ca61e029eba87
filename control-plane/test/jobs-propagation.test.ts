/**
 * A 10 000-item upsert that changes every destination: the KV bucket holds the new compiled
 * destinations and a real redirect node (dist/data-plane/main.js) serves them.
 */
import { Agent, request } from 'node:http';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkKvKey, natsNames, type CompiledLink } from '../../shared/index.js';
import { TEST_NATS_URL, waitFor } from '../../shared/testing/index.js';
import { startTestNode, type TestNode } from '../../data-plane/test/harness.js';
import type { JobWorkers } from '../jobs/index.js';
import type { OutboxRelay } from '../outbox/relay.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { count, results, startWorkers, waitForJob } from './jobs-helpers.js';

const N = 10_000;
const HOST = 'go.propagate.example.com';

const csv = (version: string) =>
  ['domain,path,destination_url,utm_campaign', ...Array.from({ length: N }, (_, i) => `${HOST},p-${i},https://shop.example.com/${version}/${i},${version}`)].join('\n');
const expected = (version: string, i: number) => `https://shop.example.com/${version}/${i}?utm_campaign=${version}`;

/** GET every path from the node (keep-alive, 16 at a time); returns the paths whose Location is wrong. */
async function wrongOnNode(port: number, version: string): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const wrong: string[] = [];
  const get = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: `/p-${i}`, agent, headers: { host: HOST } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode !== 302 || res.headers.location !== expected(version, i)) wrong.push(`p-${i}: ${res.statusCode} ${res.headers.location}`);
          resolve();
        });
      });
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; i < N; i += 16) await Promise.all(Array.from({ length: Math.min(16, N - i) }, (_, k) => get(i + k)));
  agent.destroy();
  return wrong;
}

describe('bulk upsert → KV bucket → redirect node', () => {
  let h: Harness;
  let workers: JobWorkers;
  let relay: OutboxRelay;
  let node: TestNode;

  beforeAll(async () => {
    h = await createHarness('jobs_propagation');
    await createDomain(h, HOST);
    workers = startWorkers(h);
    relay = await h.relay({ batchSize: 5000, pollMs: 20 });
    relay.start();
    node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix: h.prefix, env: { WORKERS: '1' } });
  });
  afterAll(async () => {
    await node?.destroy();
    await relay?.stop();
    await workers?.stop();
    await h.close();
  });

  async function runUpsert(version: string): Promise<string> {
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk?operation=upsert', payload: csv(version), headers: { 'content-type': 'text/csv' } });
    expect(r.statusCode).toBe(202);
    const job = await waitForJob(h, r.json().job_id, 120_000);
    expect(job.counts).toEqual({ total: N, succeeded: N, failed: 0, pending: 0 });
    await waitFor('outbox drained', async () => (await count(h, 'SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL')) === 0, 60_000, 50);
    const { nc } = await h.nats();
    const last = (await (await jetstreamManager(nc)).streams.info(natsNames(h.prefix).linksStream)).state.last_seq;
    await waitFor('node applied the bucket', async () => (await node.metric('linkplane_node_sync_applied_sequence')) >= last, 60_000, 50);
    return job.id;
  }

  it('every destination changes in the bucket and on the node', async () => {
    await runUpsert('v1');
    expect(await wrongOnNode(node.port, 'v1')).toEqual([]);

    const id = await runUpsert('v2');
    expect((await results(h, id)).filter((l) => l.status === 'updated')).toHaveLength(N);
    expect(await count(h, 'SELECT count(*) AS n FROM links WHERE version = 2')).toBe(N);

    const { kv } = await h.nats();
    const wrongInKv: number[] = [];
    for (let i = 0; i < N; i += 500) {
      const entries = await Promise.all(Array.from({ length: Math.min(500, N - i) }, (_, k) => kv.get(linkKvKey(HOST, `p-${i + k}`))));
      entries.forEach((e, k) => {
        const c = e?.json<CompiledLink>();
        if (c?.destination !== expected('v2', i + k) || c.version !== 2) wrongInKv.push(i + k);
      });
    }
    expect(wrongInKv).toEqual([]);
    expect(await wrongOnNode(node.port, 'v2')).toEqual([]);
  }, 300_000);
});
