/**
 * Live updates (core NATS, `<prefix>.links.live.<kv key>`) against a real node: applied at once
 * without any KV entry, ordered against the KV entries by the outbox sequence both carry, and a
 * restarted node catches up from the KV alone. Messages are built here exactly as the relay sends
 * them (live-lane.ts, kv-batch-publisher.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  compileLink, encodeKvValue, KV_OPERATION_HEADER, linkKvKey, natsNames, OUTBOX_SEQ_HEADER,
} from '../../shared/index.js';
import { cleanupNatsPrefix, sleep, TEST_NATS_URL, testPrefix } from '../../shared/testing/index.js';
import { DOMAIN, LinksBucket, linkSource, request, startTestNode, waitForAnswer, type TestNode } from './harness.js';

const prefix = testPrefix('dplive');
const names = natsNames(prefix);
let bucket: LinksBucket;
let js: JetStreamClient;
let node: TestNode;

const dest = (path: string, v: string) => `https://example.com/${path}/${v}`;
const value = (path: string, v: string) => encodeKvValue(compileLink(linkSource({ path, destinationUrl: dest(path, v) }), DOMAIN));
function hdrs(seq: number, del: boolean) {
  const h = natsHeaders();
  h.set(OUTBOX_SEQ_HEADER, String(seq));
  if (del) h.set(KV_OPERATION_HEADER, 'DEL');
  return h;
}
/** A live update as the relay's live lane sends it (v null: a delete). */
function live(path: string, v: string | null, seq: number): void {
  bucket.nc.publish(names.linksLiveSubjectPrefix + linkKvKey(DOMAIN.hostname, path), v === null ? new Uint8Array(0) : value(path, v), { headers: hdrs(seq, v === null) });
}
/** A KV write as the relay's KV publisher sends it. */
async function kv(path: string, v: string | null, seq: number): Promise<void> {
  await js.publish(names.linksKeySubjectPrefix + linkKvKey(DOMAIN.hostname, path), v === null ? new Uint8Array(0) : value(path, v), { headers: hdrs(seq, v === null) });
}
async function location(path: string): Promise<string | number> {
  const r = await request(node.port, { path: `/${path}` });
  return r.status === 302 ? String(r.headers.location) : r.status;
}
let marks = 0;
/** Everything sent on the live subject before this has been handled (one subscription, in order). */
async function liveSettled(): Promise<void> {
  const m = `mark${marks++}`;
  live(m, 'x', 1);
  await waitForAnswer(node.port, `/${m}`, 302, dest(m, 'x'));
}
/** Every KV entry written before this has been handled (the watch applies in stream order). */
async function kvSettled(): Promise<void> {
  const m = `kvmark${marks++}`;
  await kv(m, 'x', 1);
  await waitForAnswer(node.port, `/${m}`, 302, dest(m, 'x'));
}

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  js = jetstream(bucket.nc);
  await bucket.putDomain();
  await bucket.putLink(linkSource({ path: 'seed' }));
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { WORKERS: '1' } });
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('live updates on a node', () => {
  it('serves a live update with no KV entry at all', async () => {
    const lastSeq = await bucket.lastSeq();
    live('a', '1', 100);
    await waitForAnswer(node.port, '/a', 302, dest('a', '1'));
    expect(await bucket.lastSeq()).toBe(lastSeq); // nothing went through JetStream
    expect(await node.metric('linkplane_node_sync_applied_sequence')).toBe(lastSeq); // the resume point is the KV's
    expect(await node.metric('linkplane_node_sync_live_applied_total')).toBeGreaterThanOrEqual(1);
  });

  it('ignores a stale live update (older than the KV entry it has) and a repeated one', async () => {
    await kv('b', '2', 201);
    await waitForAnswer(node.port, '/b', 302, dest('b', '2'));
    const ignored = await node.metric('linkplane_node_sync_live_ignored_total');
    live('b', '1', 200); // the previous row's copy, arriving late
    live('b', '2', 201); // the same row's copy
    await liveSettled();
    expect(await location('b')).toBe(dest('b', '2'));
    expect(await node.metric('linkplane_node_sync_live_ignored_total')).toBe(ignored + 2);
  });

  it('does not let an older KV entry replace a newer live update; the KV entry of that row confirms it', async () => {
    live('c', '2', 301);
    await waitForAnswer(node.port, '/c', 302, dest('c', '2'));
    const superseded = await node.metric('linkplane_node_sync_kv_superseded_total');
    await kv('c', '1', 300); // the stream catching up after an election: the older row lands now
    await kvSettled();
    expect(await location('c')).toBe(dest('c', '2'));
    expect(await node.metric('linkplane_node_sync_kv_superseded_total')).toBe(superseded + 1);
    await kv('c', '2', 301);
    await kvSettled();
    expect(await location('c')).toBe(dest('c', '2'));
  });

  it('keeps deletes in order: a live delete holds against the earlier put, a re-create follows', async () => {
    live('d', '1', 400);
    await waitForAnswer(node.port, '/d', 302, dest('d', '1'));
    live('d', null, 401);
    await waitForAnswer(node.port, '/d', 404);
    await kv('d', '1', 400); // the put's KV entry, after the delete was served
    await kvSettled();
    expect(await location('d')).toBe(404);
    await kv('d', null, 401);
    live('d', '3', 402);
    await waitForAnswer(node.port, '/d', 302, dest('d', '3'));
    await kv('d', '3', 402);
    await kvSettled();
    expect(await location('d')).toBe(dest('d', '3'));
  });

  it('a restarted node catches up from the KV only (live updates sent while it was down are gone)', async () => {
    await kv('a', '2', 500); // 'a' was only ever live (seq 100): the KV now has a newer row
    await node.stop();
    await kv('e', '1', 501);
    live('e', 'lost', 502); // nobody listens: core NATS drops it
    await kv('f', '1', 503);
    await bucket.deleteLink(DOMAIN.hostname, 'd'); // without a sequence: authoritative as well
    await node.restart();
    await waitForAnswer(node.port, '/e', 302, dest('e', '1'), 30_000);
    expect(await location('a')).toBe(dest('a', '2'));
    expect(await location('f')).toBe(dest('f', '1'));
    expect(await location('d')).toBe(404);
    expect(await node.metric('linkplane_node_sync_live_applied_total')).toBe(0);
    // and it takes live updates again once ready
    await sleep(50);
    live('g', '1', 600);
    await waitForAnswer(node.port, '/g', 302, dest('g', '1'));
  });
});
