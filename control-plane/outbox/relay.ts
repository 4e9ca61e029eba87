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
 */
import type { KV } from '@nats-io/kv';
import type pg from 'pg';
import { Backoff, OutageLog, PublishError, Waker, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { OUTBOX_CHANNEL } from './enqueue.js';
import { KvBatchPublisher } from './kv-batch-publisher.js';

const LEADER_LOCK = 0x6c70_7265; // "lpre"
/** Batches one pipeline publishes before it starts over from the lowest unpublished seq. */
const PIPELINE_ROUNDS = 16;

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
}

interface OutboxRow {
  seq: string;
  kv_key: string;
  op: 'put' | 'del';
  payload: Buffer | null;
}

export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | null = null;
  /** Cut short by a NOTIFY or stop(); one that comes while a round runs is kept, so the next wait returns at once. */
  private readonly waker = new Waker();
  private leaderClient: pg.PoolClient | null = null;
  private leaderLost = false;
  private publisher: { kv: KV; pub: KvBatchPublisher } | null = null;
  leader = false;

  constructor(private readonly opts: RelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.waker.wake();
    await this.loop;
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
      if (!r.full) return total;
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
      client.on('notification', () => this.waker.wake());
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
    const backoff = new Backoff(100, 5_000);
    const outage = new OutageLog(this.opts.log, 'outbox relay');
    while (this.running) {
      try {
        if (!(await this.acquireLeadership())) {
          outage.ok();
          await this.waker.wait(1000);
          continue;
        }
        const kv = await this.opts.kv();
        const r = await this.pump(kv);
        backoff.reset();
        outage.ok();
        // a NOTIFY that came while the round ran may be for a row it missed: the wait returns at once
        if (!r.full) await this.waker.wait(this.opts.pollMs);
      } catch (err) {
        if (!this.running) break;
        outage.failed(err);
        if (this.leaderLost) await this.releaseLeadership();
        await this.waker.wait(backoff.next());
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

  private async fetch(afterSeq: string | null): Promise<OutboxRow[]> {
    const { rows } = await this.opts.pool.query<OutboxRow>(
      `SELECT seq, kv_key, op, payload FROM link_outbox
       WHERE published_at IS NULL AND ($2::bigint IS NULL OR seq > $2) ORDER BY seq LIMIT $1`,
      [this.opts.batchSize, afterSeq],
    );
    return rows;
  }

  /** Published rows are deleted: 3–4× cheaper than an UPDATE (no new row version, no index entries). */
  private async mark(rows: OutboxRow[]): Promise<void> {
    await this.opts.pool.query('DELETE FROM link_outbox WHERE seq = ANY($1::bigint[])', [rows.map((r) => r.seq)]);
    this.opts.onPublished?.(rows.length);
  }

  /**
   * One pipeline: read a batch, publish it; while its acks come back read the next batch (after
   * its last seq) and mark the previous one. `full` when it stopped with work possibly left.
   */
  private async pump(kv: KV): Promise<{ published: number; full: boolean }> {
    const pub = this.publisherFor(kv);
    const timeout = this.opts.ackTimeoutMs ?? 15_000;
    let published = 0;
    let marking: Promise<void> = Promise.resolve();
    let rows = await this.fetch(null);
    try {
      for (let round = 1; rows.length > 0; round++) {
        // within a batch only the last entry per key matters; earlier ones are superseded
        const last = new Map<string, OutboxRow>();
        for (const r of rows) {
          last.delete(r.kv_key);
          last.set(r.kv_key, r);
        }
        if (this.leaderLost) throw new PublishError('lost relay leadership before publishing');
        const sending = pub.publish(
          [...last.values()].map((r) => ({ key: r.kv_key, op: r.op, payload: r.payload })),
          timeout,
        );
        const full = rows.length === this.opts.batchSize;
        const more = full && round < PIPELINE_ROUNDS;
        const next = more ? this.fetch(rows[rows.length - 1]!.seq) : Promise.resolve<OutboxRow[]>([]);
        next.catch(() => undefined); // awaited below; don't let it go unhandled if sending fails
        try {
          await sending;
        } catch (err) {
          throw new PublishError(`publishing ${last.size} outbox entries failed`, { cause: err });
        }
        await marking;
        const done = rows;
        marking = this.mark(done);
        published += done.length;
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
