/**
 * NATS goes down during a stream of updates (a private nats-server, restarted with its store):
 * redirects keep working from LMDB while it is down, the node reconnects and converges.
 * Then: a node restarted while NATS is unreachable serves its stored snapshot and reports ready
 * after READY_WITHOUT_NATS_MS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkKvKey, type CompiledLink } from '../../shared/index.js';
import { sleep, startNatsServer, waitFor, type NatsServer } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';

const prefix = 'lpnatsrestart';
const KEYS = 200;
let nats: NatsServer;
let bucket: LinksBucket;
let node: TestNode | null = null;

beforeAll(async () => {
  nats = await startNatsServer();
  bucket = await LinksBucket.open(nats.url, prefix);
  await bucket.putDomain();
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close().catch(() => undefined);
  await nats?.destroy();
});

describe('NATS restart', () => {
  it('keeps serving while NATS is down, then converges', async () => {
    const sources = Array.from({ length: KEYS }, (_, k) => linkSource({ path: `k${k}` }));
    const latest = new Map<number, string>();
    await Promise.all(sources.map((s, k) => {
      latest.set(k, `https://example.com/${k}/v0`);
      return bucket.putLink({ ...s, destinationUrl: latest.get(k)! });
    }));
    node = await startTestNode({ natsUrl: nats.url, prefix, env: { WORKERS: '1' } });

    // a writer that keeps updating through the outage (retrying each put until it lands)
    let n = 0;
    let writing = true;
    const writer = (async () => {
      while (writing) {
        const k = n % KEYS;
        const dest = `https://example.com/${k}/v${++n}`;
        for (;;) {
          try {
            await bucket.putLink({ ...sources[k]!, version: n + 1, destinationUrl: dest });
            latest.set(k, dest);
            break;
          } catch {
            if (!writing) return;
            await sleep(100);
          }
        }
        await sleep(2);
      }
    })();

    await sleep(500);
    await nats.stop();
    await waitFor('node notices NATS is gone', async () => (await node!.metric('linkplane_node_nats_connected')) === 0, 15_000);
    // while NATS is down every link still redirects, to a destination that was published
    const served = await Promise.all(sources.map((s) => request(node!.port, { path: `/${s.path}` })));
    served.forEach((r, k) => {
      expect(r.status).toBe(302);
      expect(String(r.headers.location)).toMatch(new RegExp(`^https://example\\.com/${k}/v\\d+$`));
    });
    expect((await request(node.port, { path: '/readyz' })).status).toBe(200);
    await sleep(1000);

    await nats.start();
    await waitFor('node reconnects', async () => (await node!.metric('linkplane_node_nats_connected')) === 1, 20_000);
    await sleep(1000);
    writing = false;
    await writer;
    const lastSeq = await bucket.lastSeq();
    await waitFor('node converges', async () => (await node!.metric('linkplane_node_sync_applied_sequence')) === lastSeq, 30_000);
    // the bucket is the truth: a put whose reply was lost in the outage may have landed although the
    // writer saw an error (and gave up on it when told to stop), so `latest` can lag the bucket
    const stored = await Promise.all(sources.map(async (s) => (await bucket.kv.get(linkKvKey(s.domain, s.path)))?.json<CompiledLink>().destination));
    const version = (d: string | undefined) => Number(/\/v(\d+)$/.exec(d ?? '')?.[1] ?? NaN);
    stored.forEach((d, k) => {
      expect(d).toMatch(new RegExp(`^https://example\\.com/${k}/v\\d+$`));
      expect(version(d)).toBeGreaterThanOrEqual(version(latest.get(k)));
    });
    const final = await Promise.all(sources.map((s) => request(node!.port, { path: `/${s.path}` })));
    final.forEach((r, k) => expect(r.headers.location).toBe(stored[k]));
    expect(await node.metric('linkplane_node_sync_lag_entries')).toBe(0);
    expect(await node.metric('linkplane_node_store_rebuilds_total')).toBe(0);
  });

  it('a node restarted while NATS is unreachable serves its snapshot and becomes ready after READY_WITHOUT_NATS_MS', async () => {
    await node!.stop();
    await nats.stop();
    await node!.restart({ READY_WITHOUT_NATS_MS: '6000' });
    expect((await request(node!.port, { path: '/readyz' })).status).toBe(503);
    expect((await request(node!.port, { path: '/k1' })).status).toBe(302);
    await waitFor('stale-ready', async () => (await request(node!.port, { path: '/readyz' })).status === 200, 10_000);
    expect(node!.proc.logs().some((l) => l.msg === 'NATS unreachable since start: ready with the stored snapshot')).toBe(true);
    await nats.start();
    await waitFor('reconnects and resumes', async () => (await node!.metric('linkplane_node_nats_connected')) === 1, 20_000);
    const update = linkSource({ path: 'after-outage', destinationUrl: 'https://example.com/after' });
    await bucket.putLink(update);
    await waitFor('new link served', async () => (await request(node!.port, { path: '/after-outage' })).headers.location === 'https://example.com/after', 10_000);
  });
});
