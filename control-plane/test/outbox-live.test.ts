/**
 * The relay's live lane on a private nats-server: every new outbox row is copied at once to
 * `<prefix>.links.live.<kv key>` (Lp-Outbox-Seq, KV-Operation: DEL for a delete) and the KV writes
 * carry the same sequence; while JetStream refuses KV writes the copies still go out, and are sent
 * again while their rows wait; a bulk burst is left to the KV path. A write the relay is waiting for
 * costs one read for both: the relay's, offered to the lane, which also deletes the batch before.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  compileLink, createLogger, KV_OPERATION_HEADER, linkKvKey, natsNames, openLinksBucket, OUTBOX_SEQ_HEADER, type CompiledLink,
} from '../../shared/index.js';
import { sleep, startNatsServer, waitFor, type NatsServer } from '../../shared/testing/index.js';
import { withTx } from '../db/tx.js';
import { delLink, enqueue, putLink } from '../outbox/enqueue.js';
import { LIVE_MAX_ROWS } from '../outbox/live-lane.js';
import { DELETE_DEFER_MS, OutboxRelay } from '../outbox/relay.js';
import { createDomain, createHarness, type Harness } from './harness.js';

const domain = 'go.live.example.com';
const link = (path: string): CompiledLink =>
  compileLink(
    { id: `ln_${path}`, workspaceId: 'ws_default', version: 1, domain, path, destinationUrl: `https://example.org/${path}`, utm: null, routing: null,
      redirectStatus: null, forwardQuery: false, disabled: false, expiresAt: null, status: 'live' },
    { hostname: domain, workspaceId: 'ws_default', utmTemplate: null, defaultRedirectStatus: null, notFoundUrl: null, expiredUrl: null, version: 1 },
  );

let h: Harness;
let nats: NatsServer;
let nc: NatsConnection;
let watcher: NatsConnection;
let relay: OutboxRelay | null = null;
const registry = new Registry();
const live: Msg[] = [];
const kvMsgs: Msg[] = [];
/** Statement names sent while counting (every pg.Client query of this process). */
const named = new Map<string, number>();
let counting = false;

const unpublished = async () => Number((await h.pool.query(`SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL`)).rows[0].n);
const maxSeq = async () => String((await h.pool.query(`SELECT max(seq) AS s FROM link_outbox`)).rows[0].s);
const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await registry.metrics())?.[1] ?? NaN);

beforeAll(async () => {
  [h, nats] = await Promise.all([createHarness('outbox_live'), startNatsServer()]);
  await createDomain(h, domain);
  nc = await connect({ servers: nats.url });
  watcher = await connect({ servers: nats.url });
  const names = natsNames(h.prefix);
  watcher.subscribe(names.linksLiveSubjects, { callback: (_e, m) => void live.push(m) });
  watcher.subscribe(`${names.linksKeySubjectPrefix}>`, { callback: (_e, m) => void kvMsgs.push(m) });
  await watcher.flush();
  const kv = await openLinksBucket(nc, h.prefix);
  relay = new OutboxRelay({
    pool: h.pool, kv: async () => kv, log: createLogger({ name: 't', level: 'silent' }), batchSize: 500, pollMs: 1000, ackTimeoutMs: 300,
    registry, liveSubjectPrefix: names.linksLiveSubjectPrefix,
  });
  relay.start();
  await waitFor('relay leads', async () => relay!.leader, 5_000);
  await sleep(1100); // the live lane notices the leadership (checked every second) and reads its starting point
  const original = pg.Client.prototype.query;
  vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const q = args[0] as string | { name?: string };
    if (counting && typeof q === 'object' && q.name) named.set(q.name, (named.get(q.name) ?? 0) + 1);
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as never);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await relay?.stop();
  await nc?.close();
  await watcher?.close();
  await h?.close();
  await nats?.destroy();
});

describe('outbox relay: the live lane', () => {
  it('copies each row to the live subject with its outbox sequence; the KV writes carry it too', async () => {
    await withTx(h.pool, (tx) => enqueue(tx, [putLink(link('a'))]));
    const putSeq = await maxSeq();
    await withTx(h.pool, (tx) => enqueue(tx, [delLink(domain, 'a')]));
    const delSeq = await maxSeq();
    await waitFor('both copies', async () => live.length >= 2, 2_000, 5);
    await waitFor('published', async () => (await unpublished()) === 0, 5_000);
    const prefix = natsNames(h.prefix).linksLiveSubjectPrefix;
    const [put, del] = live;
    expect(put!.subject).toBe(prefix + linkKvKey(domain, 'a'));
    expect(put!.headers?.get(OUTBOX_SEQ_HEADER)).toBe(putSeq);
    expect(put!.headers?.get(KV_OPERATION_HEADER)).toBe('');
    expect(JSON.parse(Buffer.from(put!.data).toString())).toMatchObject({ destination: 'https://example.org/a' });
    expect(del!.headers?.get(OUTBOX_SEQ_HEADER)).toBe(delSeq);
    expect(del!.headers?.get(KV_OPERATION_HEADER)).toBe('DEL');
    expect(del!.data.length).toBe(0);
    // the KV writes: one batch of two rows for one key keeps only the last (the delete), with its sequence
    const lastKv = kvMsgs[kvMsgs.length - 1]!;
    expect(lastKv.headers?.get(OUTBOX_SEQ_HEADER)).toBe(delSeq);
    expect(lastKv.headers?.get(KV_OPERATION_HEADER)).toBe('DEL');
  });

  it('keeps sending copies while JetStream refuses the KV writes, and stops once they are stored', async () => {
    const bucket = natsNames(h.prefix).linksBucket;
    await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
    live.length = 0;
    const t0 = performance.now();
    await withTx(h.pool, (tx) => enqueue(tx, [putLink(link('b'))]));
    const seq = await maxSeq();
    await waitFor('live copy', async () => live.length >= 1, 2_000, 2);
    const firstMs = performance.now() - t0;
    expect(firstMs).toBeLessThan(500); // at NOTIFY, not at the relay's next poll (1 s here) nor after a KV ack
    await sleep(1_200);
    expect(await unpublished()).toBe(1); // the row stays until its KV put
    const copies = live.filter((m) => m.headers?.get(OUTBOX_SEQ_HEADER) === seq).length;
    expect(copies).toBeGreaterThanOrEqual(3); // sent again every 300 ms while it waits
    expect(await metric('linkplane_outbox_live_repeated_total')).toBeGreaterThanOrEqual(2);

    await openLinksBucket(nc, h.prefix); // JetStream takes writes again
    await waitFor('published', async () => (await unpublished()) === 0, 10_000);
    await sleep(400);
    const after = live.length;
    await sleep(700);
    expect(live.length).toBe(after);
  });

  it('leaves a bulk burst to the KV path', async () => {
    live.length = 0;
    await withTx(h.pool, (tx) => enqueue(tx, Array.from({ length: LIVE_MAX_ROWS * 3 }, (_, i) => putLink(link(`bulk-${i}`)))));
    await waitFor('published', async () => (await unpublished()) === 0, 10_000);
    expect(live.length).toBe(0);
    expect(await metric('linkplane_outbox_live_bursts_skipped_total')).toBeGreaterThanOrEqual(1);
    await withTx(h.pool, (tx) => enqueue(tx, [putLink(link('after-bulk'))]));
    await waitFor('live copy after the burst', async () => live.length === 1, 2_000, 5);
  });
  // before: every write cost a read by the relay, a read by the lane and a DELETE by the relay
  it('a write the relay waits for: the lane copies it from the relay\'s read, which also deletes the batch before', async () => {
    await sleep(400); // the relay is waiting for a NOTIFY, nothing left to delete
    live.length = 0;
    named.clear();
    counting = true;
    const n = 10;
    for (let i = 0; i < n; i++) {
      const kv = kvMsgs.length;
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(link(`one-${i}`))]));
      await waitFor('live copy', async () => live.length === i + 1, 2_000, 1);
      await waitFor('KV put', async () => kvMsgs.length > kv, 2_000, 1); // the relay waits again: the next write finds it so
    }
    await sleep(DELETE_DEFER_MS + 150);
    counting = false;
    expect(await unpublished()).toBe(0); // the last batch deleted alone, DELETE_DEFER_MS after no NOTIFY came
    const count = (name: string) => named.get(name) ?? 0;
    // the lane's own reads: only its timer (every 300 ms for the repeats), not one per write
    expect(count('outbox_live_new')).toBeLessThanOrEqual(4);
    // the relay's reads delete the batch before them; a write that came late finds it deleted alone
    expect(count('outbox_relay_mark_read')).toBeGreaterThanOrEqual(n / 2);
    expect(count('outbox_relay_mark_read') + count('outbox_relay_mark')).toBeGreaterThanOrEqual(n);
    expect(count('outbox_relay_read') + count('outbox_relay_mark_read')).toBeLessThanOrEqual(n + 4);

    // writes arriving while the relay is in a round (awaiting its acks): its next read feeds the lane too
    live.length = 0;
    named.clear();
    counting = true;
    const m = 48;
    await Promise.all(Array.from({ length: 8 }, async (_, k) => {
      for (let i = 0; i < m / 8; i++) await withTx(h.pool, (tx) => enqueue(tx, [putLink(link(`par-${k}-${i}`))]));
    }));
    // (a row committed after a higher seq was copied goes by KV alone, as it always did: the lane keeps no gaps)
    await waitFor('all published', async () => (await unpublished()) === 0, 5_000);
    counting = false;
    expect(count('outbox_live_new')).toBeLessThan(m / 4); // was ≈ 0.7 a write when the lane read on every NOTIFY the relay was busy for
  });
});
