/**
 * Folds the rollup increments ingest appends (`click_rollup_deltas`) into `click_rollup_hours`
 * (one row per link, hour and bot flag, every dimension's counters in arrays: migration 106).
 *
 * One compactor at a time across control planes (a transaction advisory lock), so only it ever
 * writes rollup rows: ingest transactions never wait on each other there, and a round can update
 * or insert without ON CONFLICT. Each round moves a bounded set of delta rows in one statement (pick
 * → merge with the stored rows → update or insert, and delete the picked), so a reader — which
 * sees `click_rollups_live` = rollups + deltas in one snapshot — never counts a delta twice or
 * misses one.
 */
import { OutageLog, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { withGuardedTx } from './checkout.js';

const COMPACTOR_LOCK = 1819304813;
/**
 * Delta rows folded per round (each a (link, hour, bot) group of an ingest transaction: ~7
 * increments on the bench's traffic). Each round rewrites one rollup row per (link, hour, bot) it
 * holds, so a round takes all that a few seconds of full-rate ingest append (a link-hour's clicks
 * over many transactions fold into one write), and its aggregate still fits WORK_MEM.
 */
const DEFAULT_BATCH = 150_000;
const WORK_MEM = '192MB';
/**
 * Most (dimension, value) counters one click_rollup_hours row holds. A round rewrites the whole row
 * of every (link, hour, bot) it touches and searches it once per increment, so the bound keeps a
 * link-hour with a new value in every click (a unique UTM content, say) from growing a row that
 * each round copies; the bench's busiest link-hours hold ~40 values.
 */
const DEFAULT_MAX_VALUES = 256;

export interface RollupCompactorOptions {
  pool: Pool;
  log: Logger;
  everyMs: number;
  /** Most delta rows folded per round. */
  batch?: number;
  /** Most values one compacted row holds (the rest go to narrow rows in click_rollups). */
  maxValuesPerRow?: number;
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
      // One statement, so one snapshot: the round reads exactly the delta rows it deletes (ingest
      // only appends; only this compactor, under its lock, deletes them or writes rollups). Not
      // DELETE … RETURNING into the aggregate: passing every deleted row through RETURNING cost more
      // than the DELETE and the aggregate together (bench/micro/click-store.ts, docs/performance.md).
      // The round's increments are summed per (link, hour, bot, dim, value) — arrays unnested in the
      // select list: no tuplestore per row, as unnest in FROM has — and gathered per (link, hour,
      // bot); each group's stored row is found by one index probe (`OFFSET 0` keeps it a nested
      // loop whatever the estimates), merged by linkplane_rollup_merge (work per increment, not per
      // stored value) and written back by ctid, or inserted when there was none (migration 106). A
      // row keeps at most $2 values: the ones past it are added to narrow rows in click_rollups, so
      // a link-hour with a new value in every click never rewrites an ever larger row.
      const r = await tx.query<{ moved: number }>(
        `WITH picked AS MATERIALIZED (
           SELECT ARRAY(SELECT ctid FROM click_rollup_deltas LIMIT $1) AS ctids),
         g AS MATERIALIZED (
           SELECT link_id, hour, bot, min(workspace_id) AS workspace_id,
                  array_agg(dim) AS dims, array_agg(value) AS vals, array_agg(c) AS clicks, array_agg(v) AS visitors
             FROM (SELECT link_id, hour, bot, min(workspace_id) AS workspace_id, dim, value, sum(c) AS c, sum(v) AS v
                     FROM (SELECT link_id, hour, bot, workspace_id, unnest(dims) AS dim, unnest(vals) AS value,
                                  unnest(clicks) AS c, unnest(visitors) AS v
                             FROM click_rollup_deltas WHERE ctid = ANY ((SELECT ctids FROM picked)::tid[])) u
                    GROUP BY 1, 2, 3, 5, 6) y
            GROUP BY 1, 2, 3),
         s AS MATERIALIZED (
           SELECT g.*, h.rid, h.sd, h.sv, h.sc, h.sw
             FROM g LEFT JOIN LATERAL (
               SELECT r.ctid AS rid, r.dims AS sd, r.vals AS sv, r.clicks AS sc, r.visitors AS sw FROM click_rollup_hours r
                WHERE r.link_id = g.link_id AND r.hour = g.hour AND r.bot = g.bot OFFSET 0) h ON true),
         m AS MATERIALIZED (
           SELECT link_id, hour, bot, workspace_id, rid, dims, vals, clicks, visitors,
                  NULL::text[] AS over_dims, NULL::text[] AS over_vals, NULL::bigint[] AS over_clicks, NULL::bigint[] AS over_visitors
             FROM s WHERE rid IS NULL AND cardinality(dims) <= $2
           UNION ALL
           SELECT s.link_id, s.hour, s.bot, s.workspace_id, s.rid, x.*
             FROM s, LATERAL linkplane_rollup_merge(coalesce(s.sd, '{}'), coalesce(s.sv, '{}'), coalesce(s.sc, '{}'), coalesce(s.sw, '{}'),
                                                    s.dims, s.vals, s.clicks, s.visitors, $2) x
            WHERE NOT (s.rid IS NULL AND cardinality(s.dims) <= $2)),
         spilled AS (
           INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
           SELECT m.link_id, u.dim, m.hour, u.value, m.bot, m.workspace_id, u.c, u.v
             FROM m, unnest(m.over_dims, m.over_vals, m.over_clicks, m.over_visitors) AS u(dim, value, c, v)
            WHERE m.over_dims IS NOT NULL
           ON CONFLICT (link_id, dim, hour, value, bot) DO UPDATE
             SET clicks = click_rollups.clicks + EXCLUDED.clicks, visitors = click_rollups.visitors + EXCLUDED.visitors),
         upd AS (
           UPDATE click_rollup_hours r SET dims = m.dims, vals = m.vals, clicks = m.clicks, visitors = m.visitors
             FROM m WHERE m.rid IS NOT NULL AND r.ctid = m.rid),
         ins AS (
           INSERT INTO click_rollup_hours (link_id, hour, bot, workspace_id, dims, vals, clicks, visitors)
           SELECT link_id, hour, bot, workspace_id, dims, vals, clicks, visitors FROM m WHERE m.rid IS NULL),
         moved AS (
           DELETE FROM click_rollup_deltas WHERE ctid = ANY ((SELECT ctids FROM picked)::tid[]))
         SELECT cardinality(ctids) AS moved FROM picked`,
        [this.opts.batch ?? DEFAULT_BATCH, this.opts.maxValuesPerRow ?? DEFAULT_MAX_VALUES],
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
