/**
 * kill -9 in the middle of a stream of 2 000 updates: the restarted node resumes from the
 * sequence stored in LMDB (it does not replay the bucket from the start) and ends identical to
 * what was published.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, REPO_ROOT, TEST_NATS_URL, testPrefix, waitFor, sleep } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';

const prefix = testPrefix('dpresume');
const BASE = 300;
const KEYS = 500;
const UPDATES = 2000;
let bucket: LinksBucket;
let node: TestNode | null = null;

/** What the store remembers, read by the node's own check script in a child process. */
function storedSeq(lmdbPath: string): number {
  const gen = readFileSync(join(lmdbPath, 'CURRENT'), 'utf8').trim();
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/data-plane/store/check-store.js'), join(lmdbPath, gen)], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout) as { meta: { seq: number } }).meta.seq;
}

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  await Promise.all(Array.from({ length: BASE }, (_, i) => bucket.putLink(linkSource({ path: `base${i}`, destinationUrl: `https://example.com/base/${i}` }))));
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('resume after kill -9', () => {
  it('resumes from the stored sequence and converges', async () => {
    node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { WORKERS: '1' } });
    const latest = new Map<number, string>();
    const sources = Array.from({ length: KEYS }, (_, k) => linkSource({ path: `u${k}` }));
    let published = 0;
    const publish = async (count: number, pauseMs: number) => {
      for (let i = 0; i < count; i += 25) {
        await Promise.all(Array.from({ length: 25 }, () => {
          const n = published++;
          const k = n % KEYS;
          const dest = `https://example.com/u/${k}/v${n}`;
          latest.set(k, dest);
          return bucket.putLink({ ...sources[k]!, version: n + 1, destinationUrl: dest });
        }));
        if (pauseMs) await sleep(pauseMs);
      }
    };

    // first half streams in while the node applies it
    await publish(UPDATES / 2, 5);
    await waitFor('node applied part of the stream', async () => (await node!.metric('linkplane_node_sync_applied_sequence')) > BASE + 200, 10_000);
    // second half: kill -9 while it is arriving
    const rest = publish(UPDATES / 2, 5);
    await sleep(150);
    await node.kill();
    await rest;
    expect(published).toBe(UPDATES);
    const lastSeq = await bucket.lastSeq();
    const stored = storedSeq(node.lmdbPath);
    expect(stored).toBeGreaterThan(BASE + 1);
    expect(stored).toBeLessThan(lastSeq);

    await node.restart();
    await waitFor('ready after restart', async () => (await request(node!.port, { path: '/readyz' })).status === 200, 30_000);
    const resumed = node.proc.logs().find((l) => l.msg === 'resuming links sync from stored sequence');
    expect(resumed).toMatchObject({ fromSeq: stored + 1, mode: 'resume' });
    expect(node.proc.logs().some((l) => l.msg === 'replaying links bucket')).toBe(false);
    // only what came after the stored sequence was applied: not a replay of the whole bucket
    const applied = await node.metric('linkplane_node_sync_applied_entries_total');
    expect(applied).toBeLessThanOrEqual(lastSeq - stored);
    expect(applied).toBeLessThan(BASE + KEYS);
    expect(await node.metric('linkplane_node_store_rebuilds_total')).toBe(0);

    // identical to what was published
    expect(await node.metric('linkplane_node_sync_applied_sequence')).toBe(lastSeq);
    expect(await node.metric('linkplane_node_links')).toBe(BASE + KEYS);
    for (let k = 0; k < KEYS; k += 100) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, j) => request(node!.port, { path: `/u${k + j}` })));
      answers.forEach((a, j) => expect(a.headers.location).toBe(latest.get(k + j)));
    }
    const base = await Promise.all(Array.from({ length: BASE }, (_, i) => request(node!.port, { path: `/base${i}` })));
    base.forEach((a, i) => expect(a.headers.location).toBe(`https://example.com/base/${i}`));
  });
});
