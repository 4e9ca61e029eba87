/**
 * When resuming is not safe the node rebuilds its replica by replaying the bucket into a fresh
 * LMDB generation (serving the old one meanwhile when it has one) and swaps: a damaged store, a
 * bucket deleted and recreated under a running node, a stream purged while the node was down.
 * And the safe case: deletions made while a node was down reach it through their tombstones.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsNames } from '../../shared/index.js';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix, waitFor } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';

const prefix = testPrefix('dprebuild');
let bucket: LinksBucket;
let node: TestNode;

const location = async (path: string) => (await request(node.port, { path })).headers.location ?? null;
const generations = () => readdirSync(node.lmdbPath).filter((f) => /^gen-\d+\.mdb$/.test(f));

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  await Promise.all(Array.from({ length: 100 }, (_, i) => bucket.putLink(linkSource({ path: `a${i}`, destinationUrl: `https://example.com/a/${i}` }))));
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { WORKERS: '2' } });
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('rebuilds', () => {
  it('deletions and updates made while the node was down arrive on resume (no rebuild)', async () => {
    await node.stop();
    await bucket.deleteLink('go.example.com', 'a1');
    await bucket.putLink(linkSource({ path: 'a2', destinationUrl: 'https://example.com/a/2/new' }));
    await node.restart();
    await waitFor('ready', async () => (await request(node.port, { path: '/readyz' })).status === 200, 20_000);
    expect((await request(node.port, { path: '/a1' })).status).toBe(404);
    expect(await location('/a2')).toBe('https://example.com/a/2/new');
    expect(node.proc.logs().find((l) => l.msg === 'resuming links sync from stored sequence')).toBeTruthy();
    expect(await node.metric('linkplane_node_store_rebuilds_total')).toBe(0);
  });

  it('a damaged store is replaced by a replay', async () => {
    await node.stop();
    const gen = readFileSync(join(node.lmdbPath, 'CURRENT'), 'utf8').trim();
    writeFileSync(join(node.lmdbPath, gen), Buffer.alloc(128 * 1024, 0x5a));
    await node.restart();
    await waitFor('ready', async () => (await request(node.port, { path: '/readyz' })).status === 200, 20_000);
    expect(node.proc.logs().find((l) => l.msg === 'store is damaged: starting a fresh one and replaying the stream')).toBeTruthy();
    expect(node.proc.logs().find((l) => l.msg === 'replaying links bucket')).toBeTruthy();
    expect(await location('/a5')).toBe('https://example.com/a/5');
    expect((await request(node.port, { path: '/a1' })).status).toBe(404);
    expect(generations()).not.toContain(gen);
  });

  it('a stream purged while the node was down is replayed into a fresh generation', async () => {
    await node.stop();
    const before = generations();
    const nc = bucket.nc;
    await (await jetstreamManager(nc)).streams.purge(natsNames(prefix).linksStream);
    await bucket.putDomain();
    await bucket.putLink(linkSource({ path: 'b0', destinationUrl: 'https://example.com/b/0' }));
    await node.restart();
    await waitFor('ready', async () => (await request(node.port, { path: '/readyz' })).status === 200, 20_000);
    // the purge removed exactly what the node had applied: no sequence shows it, the key count does
    expect(node.proc.logs().find((l) => l.msg === 'stored replica cannot resume: rebuilding it from the stream')).toMatchObject({ reason: 'keys_gone' });
    expect(await location('/b0')).toBe('https://example.com/b/0');
    expect((await request(node.port, { path: '/a5' })).status).toBe(404); // purged: gone from the replica too
    expect(await node.metric('linkplane_node_links')).toBe(1);
    expect(generations()).not.toEqual(before);
    expect(generations()).toHaveLength(1);
  });

  it('a bucket deleted and recreated under a running node: the old replica serves until the rebuilt one is swapped in', async () => {
    expect(await location('/b0')).toBe('https://example.com/b/0');
    const before = generations();
    const rebuilds = await node.metric('linkplane_node_store_rebuilds_total');
    await bucket.kv.destroy();
    await bucket.close();
    bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
    await bucket.putDomain();
    await Promise.all(Array.from({ length: 50 }, (_, i) => bucket.putLink(linkSource({ path: `c${i}`, destinationUrl: `https://example.com/c/${i}` }))));
    await waitFor('rebuilt replica swapped in', async () => (await location('/c49')) === 'https://example.com/c/49', 20_000);
    expect((await request(node.port, { path: '/b0' })).status).toBe(404);
    expect(await node.metric('linkplane_node_store_rebuilds_total')).toBe(rebuilds + 1);
    expect(await node.metric('linkplane_node_links')).toBe(50);
    expect(generations()).toHaveLength(1);
    expect(generations()).not.toEqual(before);
    const swap = node.proc.logs().filter((l) => l.msg === 'stored replica cannot resume: rebuilding it from the stream').at(-1);
    expect(swap).toMatchObject({ reason: 'stream_recreated' });
    // and it keeps following the new bucket
    await bucket.putLink(linkSource({ path: 'c0', destinationUrl: 'https://example.com/c/0/v2' }));
    await waitFor('update after swap', async () => (await location('/c0')) === 'https://example.com/c/0/v2', 5000);
  });
});
