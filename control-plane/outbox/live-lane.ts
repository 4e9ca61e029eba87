/**
 * The live lane: the relay leader also publishes each new outbox row on core NATS
 * (`<prefix>.links.live.<kv key>`, headers Lp-Outbox-Seq and, for a delete, KV-Operation: DEL),
 * as soon as its NOTIFY arrives and whatever the KV bucket's state. Core NATS needs no JetStream
 * leader — any live server routes it — so while the links stream elects a new leader after a
 * server loss (seconds, during which JetStream stores nothing), nodes still get every update.
 *
 * It is an accelerator, not a delivery guarantee: core NATS drops what a node misses while it
 * reconnects (its server was the one that died). So while a row waits for its KV put longer than
 * REPEAT_AFTER_MS, its live copy is sent again every REPEAT_EVERY_MS (nodes ignore a copy they
 * already applied): a node that missed it gets it within about half a second even while the
 * stream has no leader, or no quorum. The KV put (relay.ts) stays the durable path — the row is
 * deleted only after it — and nodes order both by the outbox sequence (data-plane/sync).
 *
 * Bursts (a bulk job enqueueing thousands of rows) are not copied: when more than `maxRows` rows
 * are new in one round, the lane jumps to the newest row and leaves them to the KV path, so a
 * node never receives a bulk import twice.
 *
 * One read for both paths: a NOTIFY wakes the relay, whose next read (every unpublished row, in seq
 * order) is offered here before its KV publish; the lane copies the new rows from it, and reads for
 * itself only when no such read came within the relay's LIVE_GRACE_MS (acks awaited that do not come,
 * failing) or it could not show every new row. Before, each write cost a read by each.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, type Registry } from 'prom-client';
import type { Pool } from '../db/pool.js';
import { writeHeaders } from './kv-batch-publisher.js';

interface LiveRow {
  seq: string;
  kv_key: string;
  op: 'put' | 'del';
  payload: Buffer | null;
}

const EMPTY = new Uint8Array(0);
/** Rows one round copies at most; more new rows than this at once is a bulk burst. */
export const LIVE_MAX_ROWS = 512;
/** A row still waiting for its KV put this long after it was committed gets its live copy again… */
export const REPEAT_AFTER_MS = 200;
/** …every this often (with at most LIVE_MAX_ROWS such rows; a larger backlog is left to the KV). */
export const REPEAT_EVERY_MS = 300;

export class LiveLane {
  /** Highest outbox seq the lane has handled (null: not known yet, read on the next round). */
  private high: string | null = null;
  /** Rows up to this seq were never copied (waiting at leadership, or a skipped burst): not repeated either. */
  private floor = '0';
  private readonly published: Counter | null = null;
  private readonly skipped: Counter | null = null;
  private readonly repeated: Counter | null = null;
  private lastRepeat = 0;
  /** A round of the lane's own is reading: an offer now is queued, and taken when the round ends. */
  private busy = false;
  private queued: LiveRow[] = [];

  constructor(
    private readonly opts: { pool: Pool; subjectPrefix: string; registry?: Registry; maxRows?: number },
  ) {
    if (!opts.registry) return;
    const registers = [opts.registry];
    this.published = new Counter({ name: 'linkplane_outbox_live_published_total', help: 'outbox rows copied to the live subject (core NATS) besides the KV put', registers });
    this.repeated = new Counter({ name: 'linkplane_outbox_live_repeated_total', help: 'live copies sent again for rows still waiting for their KV put', registers });
    this.skipped = new Counter({ name: 'linkplane_outbox_live_bursts_skipped_total', help: 'bursts of new outbox rows (more than one live round takes) left to the KV path alone', registers });
  }

  /** Forget the position (leadership changed): the next round starts after the newest row. */
  reset(): void {
    this.high = null;
    this.queued = [];
  }

  /** How long the relay may wait before the next round is due (a repeat, at the latest). */
  nextDueMs(now = Date.now()): number {
    return Math.max(0, this.lastRepeat + REPEAT_EVERY_MS - now);
  }

  /**
   * Copies the rows committed since the last round (`copy`; always while the position is not known),
   * and repeats those still unpublished when due.
   */
  async round(nc: NatsConnection, copy = true): Promise<number> {
    this.busy = true;
    try {
      const sent = copy || this.high === null ? await this.copyNew(nc) : 0;
      if (this.nextDueMs() === 0) await this.repeat(nc);
      return sent;
    } finally {
      this.busy = false;
      // offered meanwhile: the relay may have published and deleted those rows since, so its read is
      // all that shows them (in seq order, each once)
      if (this.queued.length > 0) {
        const bySeq = new Map(this.queued.map((r) => [r.seq, r]));
        this.queued = [];
        this.take(nc, [...bySeq.values()].sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1)));
      }
    }
  }

  /**
   * The relay's read, offered before its KV publish: `rows` are every unpublished row in seq order (but
   * rows it published already), `complete` when no unpublished row follows them. Copies the ones this
   * lane has not handled, as its own round would (after it, when one is running); false when it cannot
   * tell them (position not known yet, an incomplete read): then the lane must read for itself.
   */
  offer(nc: NatsConnection, rows: readonly LiveRow[], complete: boolean): boolean {
    if (this.high === null || !complete) return false;
    if (this.busy) {
      this.queued.push(...rows);
      return true;
    }
    this.take(nc, rows);
    return true;
  }

  /** Copies the rows of `rows` (in seq order) after the lane's position. */
  private take(nc: NatsConnection, rows: readonly LiveRow[]): void {
    if (this.high === null) return;
    const high = BigInt(this.high);
    let from = rows.length;
    while (from > 0 && BigInt(rows[from - 1]!.seq) > high) from--;
    const fresh = rows.slice(from);
    if (fresh.length === 0) return;
    this.high = fresh[fresh.length - 1]!.seq;
    if (fresh.length > (this.opts.maxRows ?? LIVE_MAX_ROWS)) {
      this.floor = this.high;
      this.skipped?.inc();
      return;
    }
    if (nc.isClosed()) return;
    this.publish(nc, fresh);
    this.published?.inc(fresh.length);
  }

  private publish(nc: NatsConnection, rows: readonly LiveRow[]): void {
    for (const r of rows) {
      const payload = r.op === 'put' ? (r.payload ?? EMPTY) : EMPTY;
      // while the connection reconnects (its server died) nats.js buffers these and sends them after
      nc.publish(this.opts.subjectPrefix + r.kv_key, payload, { headers: writeHeaders(r.op, r.seq) });
    }
  }

  /**
   * Rows already copied, still waiting for their KV put: copied again (nodes ignore what they have).
   * Only the newest waiting row of each key is repeated, and only once it is REPEAT_AFTER_MS old: an
   * older row's copy could otherwise reach a node after the KV entry of the newer one, which the
   * relay may already have stored (rows of one batch are deleted together, after its KV acks).
   */
  private async repeat(nc: NatsConnection): Promise<void> {
    this.lastRepeat = Date.now();
    if (this.high === null || nc.isClosed()) return;
    const maxRows = this.opts.maxRows ?? LIVE_MAX_ROWS;
    const { rows } = await this.opts.pool.query<LiveRow & { age_ms: number }>({
      name: 'outbox_live_waiting',
      text: `SELECT seq, kv_key, op, payload, extract(epoch FROM now() - created_at)::float8 * 1000 AS age_ms FROM link_outbox
       WHERE published_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2`,
      values: [this.floor, maxRows + 1],
    });
    if (rows.length === 0 || rows.length > maxRows) return;
    const newest = new Map<string, LiveRow & { age_ms: number }>();
    for (const r of rows) {
      newest.delete(r.kv_key);
      newest.set(r.kv_key, r);
    }
    const high = BigInt(this.high);
    const due = [...newest.values()].filter((r) => BigInt(r.seq) <= high && r.age_ms >= REPEAT_AFTER_MS);
    if (due.length === 0) return;
    this.publish(nc, due);
    this.repeated?.inc(due.length);
  }

  private async copyNew(nc: NatsConnection): Promise<number> {
    const { pool } = this.opts;
    const maxRows = this.opts.maxRows ?? LIVE_MAX_ROWS;
    if (this.high === null) {
      // rows already waiting when this relay became the leader go by KV only
      const { rows } = await pool.query<{ max: string | null }>('SELECT max(seq)::text AS max FROM link_outbox');
      this.high = rows[0]?.max ?? '0';
      this.floor = this.high;
      return 0;
    }
    const { rows } = await pool.query<LiveRow>({
      name: 'outbox_live_new',
      text: `SELECT seq, kv_key, op, payload FROM link_outbox
       WHERE published_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2`,
      values: [this.high, maxRows + 1],
    });
    if (rows.length === 0) return 0;
    if (rows.length > maxRows) {
      const { rows: m } = await pool.query<{ max: string | null }>('SELECT max(seq)::text AS max FROM link_outbox');
      this.high = m[0]?.max ?? rows[rows.length - 1]!.seq;
      this.floor = this.high;
      this.skipped?.inc();
      return 0;
    }
    if (nc.isClosed()) return 0;
    this.publish(nc, rows);
    this.high = rows[rows.length - 1]!.seq;
    this.published?.inc(rows.length);
    return rows.length;
  }
}
