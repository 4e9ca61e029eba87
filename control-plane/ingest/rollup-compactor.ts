/**
 * Folds the rollup increments ingest appends (`click_rollup_deltas`) into `click_rollups`.
 *
 * One compactor at a time across control planes (a transaction advisory lock), so only it ever
 * updates rollup rows: ingest transactions never wait on each other there. Each round moves a
 * bounded set of delta rows in one statement (pick → aggregate → upsert, and delete the picked), so a
 * reader — which sees `click_rollups_live` = rollups + deltas in one snapshot — never counts a
 * delta twice or misses one.
 */
import { OutageLog, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { withGuardedTx } from './checkout.js';

const COMPACTOR_LOCK = 1819304813;
/**
 * Delta rows folded per round (each a (link, hour, bot) group of an ingest transaction: ~7
 * increments on the bench's traffic). Each round upserts one rollup row per distinct key it holds,
 * and an upsert costs several times what an increment does, so a round takes all that a few
 * seconds of full-rate ingest append (clicks of one link-hour over many transactions fold into one
 * upsert), and its aggregate still fits WORK_MEM.
 */
const DEFAULT_BATCH = 150_000;
const WORK_MEM = '192MB';

export interface RollupCompactorOptions {
  pool: Pool;
  log: Logger;
  everyMs: number;
  /** Most delta rows folded per round. */
  batch?: number;
}

export class RollupCompactor {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<number> | null = null;
  private stopped = false;
  private readonly outage: OutageLog;

  constructor(private readonly opts: RollupCompactorOptions) {
    this.outage = new OutageLog(opts.log, 'rollup compaction');
  }

  /** One round; returns the delta rows folded (0 if another control plane is compacting). */
  compactOnce(): Promise<number> {
    this.round ??= withGuardedTx(this.opts.pool, async (tx) => {
      const { rows } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [COMPACTOR_LOCK]);
      if (!rows[0]!.ok) return 0;
      // the round's aggregate stays in memory (spilling to disk costs more than it saves)
      await tx.query(`SET LOCAL work_mem = '${WORK_MEM}'`);
      // One statement, so one snapshot: the aggregate reads exactly the delta rows the DELETE
      // removes (ingest only appends; only this compactor, under its lock, deletes). Not DELETE …
      // RETURNING into the aggregate: passing every deleted row through RETURNING cost more than
      // the DELETE and the aggregate together (bench/micro/click-store.ts, docs/performance.md).
      const r = await tx.query<{ moved: number }>(
        `WITH picked AS MATERIALIZED (
           SELECT ARRAY(SELECT ctid FROM click_rollup_deltas LIMIT $1) AS ctids),
         folded AS (
           INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
           SELECT d.link_id, u.dim, d.hour, u.value, d.bot, min(d.workspace_id), sum(u.clicks), sum(u.visitors)
             FROM click_rollup_deltas d, unnest(d.dims, d.vals, d.clicks, d.visitors) AS u(dim, value, clicks, visitors)
            WHERE d.ctid = ANY ((SELECT ctids FROM picked)::tid[])
            GROUP BY d.link_id, u.dim, d.hour, u.value, d.bot
           ON CONFLICT (link_id, dim, hour, value, bot) DO UPDATE
             SET clicks = click_rollups.clicks + EXCLUDED.clicks, visitors = click_rollups.visitors + EXCLUDED.visitors),
         moved AS (
           DELETE FROM click_rollup_deltas WHERE ctid = ANY ((SELECT ctids FROM picked)::tid[]))
         SELECT cardinality(ctids) AS moved FROM picked`,
        [this.opts.batch ?? DEFAULT_BATCH],
      );
      return r.rows[0]!.moved;
    }).finally(() => {
      this.round = null;
    });
    return this.round;
  }

  /** Compacts until the deltas are empty (tests, shutdown). */
  async drain(): Promise<void> {
    while ((await this.compactOnce()) > 0);
  }

  start(): void {
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      let folded = 0;
      try {
        folded = await this.compactOnce();
        this.outage.ok();
      } catch (err) {
        if (!this.stopped) this.outage.failed(err);
      }
      // keep going without pause while there is a backlog
      if (!this.stopped) this.timer = setTimeout(() => void tick(), folded >= (this.opts.batch ?? DEFAULT_BATCH) ? 0 : this.opts.everyMs);
    };
    this.timer = setTimeout(() => void tick(), this.opts.everyMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.round?.catch(() => undefined);
  }
}
