/**
 * 5 000 links exist before the node starts: /readyz stays 503 until every one of them is served,
 * and the replay goes through LMDB in large transactions (not one per message).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';

const prefix = testPrefix('dpready');
const COUNT = 5000;
let bucket: LinksBucket;
let node: TestNode | null = null;

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  for (let i = 0; i < COUNT; i += 500) {
    await Promise.all(Array.from({ length: 500 }, (_, j) => bucket.putLink(linkSource({ path: `r${i + j}`, destinationUrl: `https://example.com/dest/${i + j}` }))));
  }
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('readiness', () => {
  it('/readyz flips to 200 only when all 5 000 links are served', async () => {
    const lastSeq = await bucket.lastSeq();
    node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, waitReady: false, env: { WORKERS: '1' } });
    const statuses: number[] = [];
    for (;;) {
      const r = await request(node.port, { path: '/readyz' });
      statuses.push(r.status);
      if (r.status === 200) break;
      expect(r.status).toBe(503);
    }
    // the moment it says ready, everything is there
    expect(await node.metric('linkplane_node_links')).toBe(COUNT);
    expect(await node.metric('linkplane_node_sync_applied_sequence')).toBe(lastSeq);
    for (let i = 0; i < COUNT; i += 250) {
      const answers = await Promise.all(Array.from({ length: 250 }, (_, j) => request(node!.port, { path: `/r${i + j}` })));
      answers.forEach((a, j) => {
        expect(a.status).toBe(302);
        expect(a.headers.location).toBe(`https://example.com/dest/${i + j}`);
      });
    }
    const ready = node.proc.logs().find((l) => l.msg === 'node is ready');
    expect(ready).toMatchObject({ appliedSeq: lastSeq, links: COUNT });
    // large transactions: 5 001 messages in a handful of commits, never one per message
    expect(await node.metric('linkplane_node_sync_transactions_total')).toBeLessThan(50);
    console.log(`readyz answered 503 ${statuses.length - 1} times before 200; ${await node.metric('linkplane_node_sync_transactions_total')} transactions`);
  });
});
