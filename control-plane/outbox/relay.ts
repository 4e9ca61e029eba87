/**
 * The outbox relay: publishes link_outbox rows to the KV bucket in seq order and marks them.
 *
 * - One leader among all control planes (a session advisory lock), so publishes never interleave.
 * - It reads every row still unpublished (not "seq > last"), so a row that commits late with a
 *   lower seq is published on the next round, never skipped. Rows for one key are ordered by the
 *   row lock the writers take, so per-key order is commit order.
 * - Publishes are pipelined (many in flight, one batch at a time); a batch is marked only after
 *   every ack. A crash between publish and mark republishes the batch: KV puts are idempotent.
 */
import type { KV } from '@nats-io/kv';
import type pg from 'pg';
import { PublishError, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { OUTBOX_CHANNEL } from './enqueue.js';

const LEADER_LOCK = 0x6c70_7265; // "lpre"

export interface RelayOptions {
  pool: Pool;
  /** Resolves the KV bucket once NATS is up. */
  kv: () => Promise<KV>;
  log: Logger;
  batchSize: number;
  pollMs: number;
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
  private wake: (() => void) | null = null;
  private leaderClient: pg.PoolClient | null = null;
  private leaderLost = false;
  leader = false;

  constructor(private readonly opts: RelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.releaseLeadership();
  }

  /** Publishes everything pending now (tests and shutdown); returns rows published. */
  async drainOnce(): Promise<number> {
    const kv = await this.opts.kv();
    let total = 0;
    for (;;) {
      const n = await this.publishBatch(kv);
      total += n;
      if (n < this.opts.batchSize) return total;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
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
      client.on('notification', () => this.wake?.());
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
    let backoff = 100;
    while (this.running) {
      try {
        if (!(await this.acquireLeadership())) {
          await this.sleep(1000);
          continue;
        }
        const kv = await this.opts.kv();
        const n = await this.publishBatch(kv);
        backoff = 100;
        if (n < this.opts.batchSize) await this.sleep(this.opts.pollMs);
      } catch (err) {
        this.opts.log.warn({ err }, 'outbox relay round failed; retrying');
        if (this.leaderLost) await this.releaseLeadership();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private async publishBatch(kv: KV): Promise<number> {
    const { rows } = await this.opts.pool.query<OutboxRow>(
      `SELECT seq, kv_key, op, payload FROM link_outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`,
      [this.opts.batchSize],
    );
    if (rows.length === 0) return 0;
    // Within a batch only the last entry per key matters; earlier ones are superseded.
    const last = new Map<string, OutboxRow>();
    for (const r of rows) {
      last.delete(r.kv_key);
      last.set(r.kv_key, r);
    }
    if (this.leaderLost) throw new PublishError('lost relay leadership before publishing');
    try {
      await Promise.all(
        [...last.values()].map((r) => (r.op === 'put' ? kv.put(r.kv_key, r.payload ?? new Uint8Array()) : kv.delete(r.kv_key))),
      );
    } catch (err) {
      throw new PublishError(`publishing ${last.size} outbox entries failed`, { cause: err });
    }
    await this.opts.pool.query('UPDATE link_outbox SET published_at = now() WHERE seq = ANY($1::bigint[])', [rows.map((r) => r.seq)]);
    this.opts.onPublished?.(rows.length);
    return rows.length;
  }
}
