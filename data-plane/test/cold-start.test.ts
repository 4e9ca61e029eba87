/**
 * A fresh node starting on a bucket of 20 000 links answers while it replays: a link it does not
 * have yet is 503 + Retry-After (a client or load balancer retries), never a 404 that could be
 * cached as "not found". Once caught up, unknown links are 404 as always.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, request, startTestNode, type Reply, type TestNode } from './harness.js';

const prefix = testPrefix('dpcold');
const COUNT = 20_000;
let bucket: LinksBucket;
let node: TestNode | null = null;

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  for (let i = 0; i < COUNT; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => bucket.putLink(linkSource({ path: `c${i + j}`, destinationUrl: `https://example.com/c/${i + j}` }))));
  }
}, 180_000);

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('cold start', () => {
  it('answers links it has not replayed yet with 503 + Retry-After, never 404; unknown links 404 once caught up', async () => {
    // small commits: the replay takes long enough to be hit many times
    node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, waitReady: false, env: { WORKERS: '1', SYNC_BATCH_MAX: '50', CLICK_CAPTURE: 'false' } });
    const seen = new Map<number, number>();
    let unknownDuringSync: Reply | null = null;
    let i = 0;
    for (;;) {
      const ready = (await request(node.port, { path: '/readyz' })).status === 200;
      // the highest paths arrive last in the replay
      const batch = await Promise.all(Array.from({ length: 50 }, () => {
        const n = COUNT - 1 - (i++ * 37) % COUNT;
        return request(node!.port, { path: `/c${n}` }).then((r) => ({ n, r }));
      }));
      for (const { n, r } of batch) {
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        if (r.status === 302) expect(r.headers.location).toBe(`https://example.com/c/${n}`);
        else {
          expect(r.status).toBe(503);
          expect(r.headers['retry-after']).toBe('1');
          expect(r.headers['cache-control']).toBe('no-store');
        }
      }
      if (!ready && unknownDuringSync === null) unknownDuringSync = await request(node.port, { path: '/no-such-link' });
      if (ready) break;
    }
    expect(seen.get(404)).toBeUndefined();
    expect(seen.get(503)).toBeGreaterThan(0);
    expect(unknownDuringSync?.status).toBe(503);
    expect(await node.metric('linkplane_node_links')).toBe(COUNT);
    const after = await request(node.port, { path: '/no-such-link' });
    expect(after.status).toBe(404);
    expect(after.headers['retry-after']).toBeUndefined();
    console.log(`cold start of ${COUNT} links: ${JSON.stringify(Object.fromEntries(seen))} (status → answers) before ready, no 404`);
  });
});
