/**
 * Disk full under LMDB_PATH (a small tmpfs filled to the last byte): the node cannot apply updates.
 * Within SYNC_MAX_BEHIND_MS it says so — /readyz 503 with the reason, `sync_stalled` 1, store write
 * failures counted, one log line per state change however many retries — and answers the links it
 * lacks with 503 + Retry-After, not 404. Once space is freed it catches up and is ready again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix, waitFor } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';
import { mountTmpfs } from './tmpfs.js';

const prefix = testPrefix('dpfull');
const tmpfs = mountTmpfs(8 * 1024);
const BEFORE = 200;
const AFTER = 3000;
const MAX_BEHIND_MS = 1000;
let bucket: LinksBucket;
let node: TestNode | null = null;

beforeAll(async () => {
  if (!tmpfs) return;
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  await Promise.all(Array.from({ length: BEFORE }, (_, i) => bucket.putLink(linkSource({ path: `f${i}`, destinationUrl: `https://example.com/old/${i}` }))));
});

afterAll(async () => {
  await node?.stop();
  tmpfs?.unmount();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

const countLogs = (msg: string) => node!.proc.logs().filter((l) => l.msg === msg).length;

describe.skipIf(tmpfs === null)('store disk full (tmpfs)', () => {
  it('turns /readyz 503 with the reason while it cannot apply updates, answers missing links 503, and recovers', async () => {
    node = await startTestNode({
      natsUrl: TEST_NATS_URL, prefix, lmdbPath: `${tmpfs!.dir}/store`,
      env: { CLICK_CAPTURE: 'false', WORKERS: '1', SYNC_MAX_BEHIND_MS: String(MAX_BEHIND_MS) },
    });
    expect(await node.metric('linkplane_node_links')).toBe(BEFORE);
    expect(await node.metric('linkplane_node_sync_stalled')).toBe(0);
    expect(await node.metric('linkplane_node_store_write_failures_total')).toBe(0);

    tmpfs!.fill();
    const t0 = Date.now();
    for (let i = 0; i < AFTER; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => bucket.putLink(linkSource({ path: `n${i + j}`, destinationUrl: `https://example.com/new/${i + j}` }))));
    }
    await bucket.putLink(linkSource({ path: 'f0', destinationUrl: 'https://example.com/changed/0' }));
    const lastSeq = await bucket.lastSeq();

    const notReady = await waitFor('readyz 503', async () => {
      const r = await request(node!.port, { path: '/readyz' });
      return r.status === 503 ? r : null;
    }, 15_000, 50);
    const tNotReady = Date.now() - t0;
    expect(notReady.body).toMatch(/^not ready: store writes failing \(disk full or unwritable under LMDB_PATH\?\): replica \d+ updates behind the stream for longer than SYNC_MAX_BEHIND_MS\n$/);
    expect(await node.metric('linkplane_node_sync_stalled')).toBe(1);
    expect(await node.metric('linkplane_node_store_writes_failing')).toBe(1);
    // every retry learns the stream's last sequence: the lag is visible, not 0
    await waitFor('stream sequence seen', async () => (await node!.metric('linkplane_node_sync_stream_sequence')) === lastSeq, 10_000, 100);
    const applied = await node.metric('linkplane_node_sync_applied_sequence');
    expect(await node.metric('linkplane_node_sync_lag_entries')).toBe(lastSeq - applied);
    expect(lastSeq - applied).toBeGreaterThan(1000);

    // a link it lacks: retry later, never a cacheable 404
    const missing = await request(node.port, { path: `/n${AFTER - 1}` });
    expect(missing.status).toBe(503);
    expect(missing.headers['retry-after']).toBe('1');
    expect(missing.headers['cache-control']).toBe('no-store');
    // what it has is still served
    expect((await request(node.port, { path: '/f1' })).headers.location).toBe('https://example.com/old/1');

    // it keeps retrying, and logs the state change once
    await waitFor('retries', async () => (await node!.metric('linkplane_node_store_write_failures_total')) >= 3, 15_000, 100);
    expect(countLogs('store writes failing (disk full or unwritable?): retrying from the stored sequence; serving what the store has')).toBe(1);
    expect(countLogs('replica behind the stream and store writes failing: not ready (answering 503 for links it lacks) until it catches up')).toBe(1);

    tmpfs!.free();
    const t1 = Date.now();
    await waitFor('ready again', async () => (await request(node!.port, { path: '/readyz' })).status === 200, 15_000, 50);
    const tReady = Date.now() - t1;
    expect((await request(node.port, { path: '/readyz' })).body).toBe('ready\n');
    expect(await node.metric('linkplane_node_sync_applied_sequence')).toBe(lastSeq);
    expect(await node.metric('linkplane_node_sync_lag_entries')).toBe(0);
    expect(await node.metric('linkplane_node_sync_stalled')).toBe(0);
    expect(await node.metric('linkplane_node_store_writes_failing')).toBe(0);
    expect(await node.metric('linkplane_node_links')).toBe(BEFORE + AFTER);
    expect(countLogs('store writes succeed again')).toBe(1);
    expect(countLogs('replica caught up again: ready')).toBe(1);
    for (let i = 0; i < AFTER; i += 500) {
      const answers = await Promise.all(Array.from({ length: 500 }, (_, j) => request(node!.port, { path: `/n${i + j}` })));
      answers.forEach((a, j) => expect(a.headers.location).toBe(`https://example.com/new/${i + j}`));
    }
    expect((await request(node.port, { path: '/f0' })).headers.location).toBe('https://example.com/changed/0');
    expect((await request(node.port, { path: '/nothing-here' })).status).toBe(404);
    console.log(`disk full: not ready after ${tNotReady} ms (bound ${MAX_BEHIND_MS} ms), ${await node.metric('linkplane_node_store_write_failures_total')} failed writes; ready ${tReady} ms after space was freed`);
  });
});
