/**
 * The outbox relay: publishes link_outbox rows to the KV bucket in seq order, then deletes them
 * (a row still in the table is unpublished; `published_at` stays NULL).
 *
 * - One leader among all control planes (a session advisory lock), so publishes never interleave.
 * - It reads every row still unpublished (not "seq > last"), so a row that commits late with a
 *   lower seq is published on the next round, never skipped. Rows for one key are ordered by the
 *   row lock the writers take, so per-key order is commit order.
 * - Publishes are pipelined: a batch goes out as one stream of messages whose acks are awaited
 *   together (kv-batch-publisher.ts), and while they come back the next batch is read and the
 *   previous one deleted. A batch is deleted only after every ack. A crash between publish and
 *   delete republishes the batch: KV puts are idempotent.
 * - While a pipeline runs it reads on from the last seq it sent; when it ends (a short batch, or
 *   after PIPELINE_ROUNDS batches) the next round reads from the start again, which is where a
 *   row that committed late with a lower seq is picked up.
 * - While publishing fails (JetStream without quorum, a bucket that cannot be placed, Postgres
 *   away) it backs off, whatever wakes it: a NOTIFY (every API write sends one) does not cut the
 *   wait short, and each retry is a probe of one row, not the backlog. The first probe that goes
 *   through ends the outage and the backlog follows at full speed.
 * - With `liveSubjectPrefix`, the leader also copies each new row to core NATS at once
 *   (live-lane.ts), in its own loop that no KV failure or ack wait holds up: nodes apply it while
 *   the links stream has no leader. The row is still deleted only after its KV put. A NOTIFY wakes
 *   the relay, whose next read is offered to the lane before the KV publish (one read for both); the
 *   lane reads for itself only if no read that began after the NOTIFY was offered within
 *   LIVE_GRACE_MS (the relay awaiting acks that do not come, failing) or the offer was refused.
 * - A small batch that ended a round (what one API write or a few make) is deleted by the next
 *   round's read, in the same statement, or alone after DELETE_DEFER_MS if no NOTIFY comes first: one
 *   statement and one commit per wake-up instead of a read and a delete. Until then the published
 *   rows stay in the table (a crash republishes them, as one between publish and delete always did)
 *   and the backlog gauges count them.
 */
import type { KV } from '@nats-io/kv';
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { Counter, Gauge, type Registry } from 'prom-client';
import type pg from 'pg';
import { Backoff, OutageLog, PublishError, Waker, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { startSpanFrom, traceparentOf } from '../tracing/index.js';
import { OUTBOX_CHANNEL } from './enqueue.js';
import { connectionOf, KvBatchPublisher, type KvWrite } from './kv-batch-publisher.js';
import { LiveLane } from './live-lane.js';

const LEADER_LOCK = 0x6c70_7265; // "lpre"
/** Batches one pipeline publishes before it starts over from the lowest unpublished seq. */
const PIPELINE_ROUNDS = 16;
/** A round's last batch up to this many rows is deleted by the next read rather than at once… */
export const DELETE_DEFER_MAX_ROWS = 256;
/** …or alone, when no NOTIFY brought a next read within this long. */
export const DELETE_DEFER_MS = 100;
/** The live lane reads for itself when no relay read that began after a NOTIFY was offered to it within this long. */
export const LIVE_GRACE_MS = 20;

export interface RelayOptions {
  pool: Pool;
  /** Resolves the KV bucket once NATS is up. */
  kv: () => Promise<KV>;
  log: Logger;
  batchSize: number;
  pollMs: number;
  /** How long a batch's acks may take before the batch is retried (default 15 s). */
  ackTimeoutMs?: number;
  onPublished?: (count: number) => void;
  /** Registers the relay's gauges and counters (linkplane_outbox_relay_*). */
  registry?: Registry;
  now?: () => number;
  /** Also copy each new row to `<this><kv key>` on core NATS (natsNames().linksLiveSubjectPrefix); off when absent. */
  liveSubjectPrefix?: string;
}

/** What the relay sees: shown in /readyz and as metrics. */
export interface RelayHealth {
  leader: boolean;
  /** 'failing' from a failed round until a publish goes through again. */
  publishing: 'ok' | 'failing';
  last_error: string | null;
  /** Seconds since the last round that published or found nothing to publish (null: none yet). */
  last_success_age_seconds: number | null;
}

interface OutboxRow {
  seq: string;
  kv_key: string;
  op: 'put' | 'del';
  payload: Buffer | null;
  traceparent: string | null;
}

/**
 * A PRODUCER span for each row that carries a trace context (an API write): the message's
 * `traceparent` names it. Export off: a non-recording span, so the header is the row's own context.
 */
function publishSpans(rows: Iterable<OutboxRow>): { writes: KvWrite[]; spans: Span[] } {
  const writes: KvWrite[] = [];
  const spans: Span[] = [];
  for (const r of rows) {
    let traceparent: string | null = null;
    if (r.traceparent) {
      const span = startSpanFrom(r.traceparent, 'outbox publish', {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'nats', 'messaging.operation.type': 'send', 'linkplane.outbox.seq': r.seq, 'linkplane.outbox.op': r.op },
      });
      spans.push(span);
      traceparent = traceparentOf(span);
    }
    writes.push({ key: r.kv_key, op: r.op, payload: r.payload, traceparent, seq: r.seq });
  }
  return { writes, spans };
}

function endSpans(spans: Span[], err?: unknown): void {
  for (const s of spans) {
    if (err) s.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    s.end();
  }
}

const READ = 'SELECT seq, kv_key, op, payload, traceparent FROM link_outbox WHERE published_at IS NULL';

export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | null = null;
  /** Cut short by a NOTIFY or stop(); one that comes while a round runs is kept, so the next wait returns at once. */
  private readonly waker = new Waker();
  private leaderClient: pg.PoolClient | null = null;
  private leaderLost = false;
  private publisher: { kv: KV; pub: KvBatchPublisher } | null = null;
  /** Cut short only by stop(): the wait between failed rounds. */
  private readonly stopWaker = new Waker();
  private failing = false;
  private lastError: string | null = null;
  private lastSuccess: number | null = null;
  private readonly failures: Counter | null = null;
  private readonly published: Counter | null = null;
  private readonly live: LiveLane | null = null;
  private liveLoop: Promise<void> | null = null;
  /** Cut short by a NOTIFY or stop(): the live lane's wait. */
  private readonly liveWaker = new Waker();
  /** Waiting for a NOTIFY after a round that went through. */
  private parked = false;
  /** NOTIFYs received; the lane's grace timer waits for a relay read begun after the `liveGraceFor`-th. */
  private notifies = 0;
  private liveGraceFor = 0;
  private liveGrace: NodeJS.Timeout | null = null;
  /** Published rows whose DELETE rides on the next read from the start (or goes alone: DELETE_DEFER_MS). */
  private unmarked: string[] = [];
  leader = false;

  constructor(private readonly opts: RelayOptions) {
    if (opts.liveSubjectPrefix) this.live = new LiveLane({ pool: opts.pool, subjectPrefix: opts.liveSubjectPrefix, registry: opts.registry });
    const registers = opts.registry ? [opts.registry] : null;
    if (!registers) return;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const relay = this;
    new Gauge({
      name: 'linkplane_outbox_relay_leader', help: '1 on the control plane whose relay holds the leader lock', registers,
      collect() {
        this.set(relay.leader ? 1 : 0);
      },
    });
    new Gauge({
      name: 'linkplane_outbox_relay_failing', help: '1 while the relay cannot publish (JetStream or Postgres unavailable, bucket not placed)', registers,
      collect() {
        this.set(relay.failing ? 1 : 0);
      },
    });
    new Gauge({
      name: 'linkplane_outbox_relay_last_success_timestamp_seconds', help: 'when a relay round last succeeded (published, or found nothing to publish)', registers,
      collect() {
        if (relay.lastSuccess !== null) this.set(relay.lastSuccess / 1000);
      },
    });
    this.failures = new Counter({ name: 'linkplane_outbox_relay_failures_total', help: 'relay rounds that failed', registers });
    this.published = new Counter({ name: 'linkplane_outbox_published_total', help: 'outbox rows published to the KV bucket', registers });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  health(): RelayHealth {
    return {
      leader: this.leader,
      publishing: this.failing ? 'failing' : 'ok',
      last_error: this.failing ? this.lastError : null,
      last_success_age_seconds: this.lastSuccess === null ? null : Math.round((this.now() - this.lastSuccess) / 100) / 10,
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    if (this.live) this.liveLoop = this.runLive(this.live);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.waker.wake();
    this.stopWaker.wake();
    this.liveWaker.wake();
    if (this.liveGrace) clearTimeout(this.liveGrace);
    await this.loop;
    await this.liveLoop;
    await this.markDeferred().catch(() => undefined); // else the next leader republishes them: harmless
    await this.releaseLeadership();
    this.publisher?.pub.close();
    this.publisher = null;
  }

  /** Publishes everything pending now (tests and shutdown); returns rows published. */
  async drainOnce(): Promise<number> {
    const kv = await this.opts.kv();
    let total = 0;
    for (;;) {
      const r = await this.pump(kv);
      total += r.published;
      if (!r.full) {
        await this.markDeferred();
        return total;
      }
    }
  }
  private async acquireLeadership(): Promise<boolean> {
    if (this.leaderClient && !this.leaderLost) return true;
    await this.releaseLeadership();
    const client = await this.opts.pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK]);
      if (!rows[0]!.ok) {
        client.release();
        return false;
      }
      this.leaderLost = false;
      client.on('error', () => {
        this.leaderLost = true;
      });
      client.on('notification', () => {
        // the relay's next read is offered to the live lane; if none comes in time, the lane reads itself
        this.notifies++;
        if (this.live) this.armLiveGrace();
        this.waker.wake();
      });
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.leaderClient = client;
      this.leader = true;
      this.opts.log.info('outbox relay is the leader');
      return true;
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
  }

  private async releaseLeadership(): Promise<void> {
    const c = this.leaderClient;
    this.leaderClient = null;
    this.leader = false;
    if (!c) return;
    try {
      if (!this.leaderLost) {
        await c.query(`UNLISTEN ${OUTBOX_CHANNEL}`);
        await c.query('SELECT pg_advisory_unlock($1)', [LEADER_LOCK]);
      }
      c.release(this.leaderLost ? new Error('leader connection lost') : undefined);
    } catch (err) {
      c.release(err as Error);
    }
  }

  private async run(): Promise<void> {
    // capped at 1 s: while failing a round is a one-row probe, cheap enough to send every second, and a
    // stream that regains its leader (a NATS server lost) is written to within 1 s of it (issue 14)
    const backoff = new Backoff(100, 1_000);
    const outage = new OutageLog(this.opts.log, 'outbox relay');
    while (this.running) {
      try {
        if (!(await this.acquireLeadership())) {
          outage.ok();
          await this.waker.wait(1000);
          continue;
        }
        const kv = await this.opts.kv();
        // while failing, a probe of one row: the backlog goes out only once JetStream takes writes again
        const r = this.failing ? await this.pump(kv, 1, 1) : await this.pump(kv);
        this.failing = false;
        this.lastSuccess = this.now();
        backoff.reset();
        outage.ok();
        // a NOTIFY that came while the round ran may be for a row it missed: the wait returns at once
        if (!r.full) {
          this.parked = true;
          try {
            // published rows left to delete: by the next read if a NOTIFY brings one soon, else alone
            let woken = false;
            if (this.unmarked.length > 0) {
              woken = await this.waker.wait(Math.min(DELETE_DEFER_MS, this.opts.pollMs));
              if (!woken && this.running) await this.markDeferred();
            }
            if (!woken) await this.waker.wait(this.opts.pollMs);
          } finally {
            this.parked = false;
          }
        }
      } catch (err) {
        if (!this.running) break;
        this.liveWaker.wake(); // the read this round was to offer the lane may not have happened
        this.failing = true;
        this.lastError = err instanceof Error ? err.message : String(err);
        this.failures?.inc();
        outage.failed(err);
        if (this.leaderLost) await this.releaseLeadership();
        // only stop() ends this wait early: NOTIFYs (one per API write) stay pending for after it
        await this.stopWaker.wait(backoff.next());
      }
    }
  }

  /** The live lane: copies each new row to core NATS as its NOTIFY comes, while this relay leads. */
  private async runLive(live: LiveLane): Promise<void> {
    const backoff = new Backoff(100, 2_000);
    let wasLeader = false;
    // a wake-up by its timer alone is for the repeats: new rows come by the relay's reads, or wake it
    let copy = true;
    while (this.running) {
      try {
        if (!this.leader) {
          if (wasLeader) live.reset();
          wasLeader = false;
          await this.liveWaker.wait(1000);
          continue;
        }
        if (!wasLeader) live.reset();
        wasLeader = true;
        await live.round(connectionOf(await this.opts.kv()), copy);
        backoff.reset();
        copy = await this.liveWaker.wait(Math.min(this.opts.pollMs, live.nextDueMs()));
      } catch (err) {
        if (!this.running) break;
        // Postgres away (the KV path reports that outage) or no bucket yet: try again later
        this.opts.log.debug({ err }, 'live lane round failed');
        await this.liveWaker.wait(backoff.next());
        copy = true;
      }
    }
  }

  private publisherFor(kv: KV): KvBatchPublisher {
    if (this.publisher?.kv !== kv) {
      this.publisher?.pub.close();
      this.publisher = { kv, pub: KvBatchPublisher.for(kv) };
    }
    return this.publisher.pub;
  }

  /**
   * The unpublished rows in seq order, after `afterSeq` or from the start; a read from the start also
   * deletes the rows published whose delete was deferred (they are not returned: the read's snapshot
   * still holds them).
   */
  private async fetch(afterSeq: string | null, limit: number): Promise<OutboxRow[]> {
    const { pool } = this.opts;
    if (afterSeq !== null) {
      return (await pool.query<OutboxRow>({ name: 'outbox_relay_read_after', text: `${READ} AND seq > $2 ORDER BY seq LIMIT $1`, values: [limit, afterSeq] })).rows;
    }
    if (this.unmarked.length === 0) {
      return (await pool.query<OutboxRow>({ name: 'outbox_relay_read', text: `${READ} ORDER BY seq LIMIT $1`, values: [limit] })).rows;
    }
    const done = this.unmarked;
    const { rows } = await pool.query<OutboxRow>({
      name: 'outbox_relay_mark_read',
      text: `WITH done AS (DELETE FROM link_outbox WHERE seq = ANY($2::bigint[]))
             ${READ} AND seq <> ALL($2::bigint[]) ORDER BY seq LIMIT $1`,
      values: [limit, done],
    });
    if (this.unmarked === done) this.unmarked = [];
    return rows;
  }

  /** Published rows are deleted: 3–4× cheaper than an UPDATE (no new row version, no index entries). */
  private async mark(rows: OutboxRow[]): Promise<void> {
    await this.opts.pool.query({ name: 'outbox_relay_mark', text: 'DELETE FROM link_outbox WHERE seq = ANY($1::bigint[])', values: [rows.map((r) => r.seq)] });
  }

  /** Deletes the rows whose delete was deferred, if any (no next read came, or stopping). */
  private async markDeferred(): Promise<void> {
    const done = this.unmarked;
    if (done.length === 0) return;
    await this.opts.pool.query({ name: 'outbox_relay_mark', text: 'DELETE FROM link_outbox WHERE seq = ANY($1::bigint[])', values: [done] });
    if (this.unmarked === done) this.unmarked = [];
  }

  private armLiveGrace(): void {
    this.liveGraceFor = this.notifies;
    if (this.liveGrace) return; // the deadline stays the first NOTIFY's
    this.liveGrace = setTimeout(() => {
      this.liveGrace = null;
      this.liveWaker.wake();
    }, LIVE_GRACE_MS);
    this.liveGrace.unref();
  }

  /**
   * The relay's read from the start (begun after `readStart` NOTIFYs), offered to the live lane; when it
   * cannot take it, the lane reads itself at once. A read that covers every NOTIFY so far ends the grace.
   */
  private feedLive(kv: KV, rows: OutboxRow[], complete: boolean, readStart: number): void {
    if (!this.live || this.leaderLost) return;
    let fed = false;
    try {
      fed = this.live.offer(connectionOf(kv), rows, complete);
    } catch {
      fed = false;
    }
    if (!fed) this.liveWaker.wake();
    else if (this.liveGrace && readStart >= this.liveGraceFor) {
      clearTimeout(this.liveGrace);
      this.liveGrace = null;
    }
  }

  /**
   * One pipeline: read a batch, publish it; while its acks come back read the next batch (after
   * its last seq) and mark the previous one. `full` when it stopped with work possibly left.
   */
  private async pump(kv: KV, limit = this.opts.batchSize, maxRounds = PIPELINE_ROUNDS): Promise<{ published: number; full: boolean }> {
    const pub = this.publisherFor(kv);
    const timeout = this.opts.ackTimeoutMs ?? 15_000;
    let published = 0;
    let marking: Promise<void> = Promise.resolve();
    const readStart = this.notifies;
    let rows = await this.fetch(null, limit);
    this.feedLive(kv, rows, rows.length < limit, readStart);
    try {
      for (let round = 1; rows.length > 0; round++) {
        // within a batch only the last entry per key matters; earlier ones are superseded
        const last = new Map<string, OutboxRow>();
        for (const r of rows) {
          last.delete(r.kv_key);
          last.set(r.kv_key, r);
        }
        if (this.leaderLost) throw new PublishError('lost relay leadership before publishing');
        const { writes, spans } = publishSpans(last.values());
        const sending = pub.publish(writes, timeout);
        const full = rows.length === limit;
        const more = full && round < maxRounds;
        const next = more ? this.fetch(rows[rows.length - 1]!.seq, limit) : Promise.resolve<OutboxRow[]>([]);
        next.catch(() => undefined); // awaited below; don't let it go unhandled if sending fails
        try {
          await sending;
          endSpans(spans);
        } catch (err) {
          endSpans(spans, err);
          throw new PublishError(`publishing ${last.size} outbox entries failed`, { cause: err });
        }
        await marking;
        const done = rows;
        published += done.length;
        this.opts.onPublished?.(done.length);
        this.published?.inc(done.length);
        if (!more && !full && done.length <= DELETE_DEFER_MAX_ROWS) {
          // the round's last, small batch: the next read deletes it (see the file comment)
          this.unmarked = done.map((r) => r.seq);
          return { published, full };
        }
        marking = this.mark(done);
        if (!more) {
          await marking;
          return { published, full };
        }
        rows = await next;
      }
      await marking;
      return { published, full: false };
    } finally {
      await marking.catch(() => undefined);
    }
  }
}
