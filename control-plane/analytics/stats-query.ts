/**
 * Stats from the hourly rollups (never from raw clicks): totals, a zero-filled series, and the
 * top values of one dimension — for one link, or for a whole workspace (top links included).
 */
import type { Queryable } from '../db/pool.js';
import { DIM_DEFAULTS, ROLLUP_DIMENSIONS } from '../ingest/index.js';
import type { AuthContext } from '../keys/key-store.js';
import { shortUrl } from '../links/link-row.js';
import { bucketStarts, INTERVAL_MS, type StatsRange } from './stats-range.js';

export interface Counts {
  clicks: number;
  visitors: number;
}

/** What stats group by: every rollup dimension, and `bot` (`bot` / `human`, from the rows' own flag). */
export const STATS_DIMENSIONS = [...ROLLUP_DIMENSIONS, 'bot'] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];

export interface StatsFilter {
  range: StatsRange;
  excludeBots: boolean;
}

/** Which rollup rows: one link's, or a workspace's (optionally only links on some domains). */
export type Scope = { linkId: string } | { workspaceId: string; domains: readonly string[] | null };

const iso = (t: number) => new Date(t).toISOString();

/**
 * WHERE clause + params for rollup rows of `scope`, dimension `dim`, within the filter. `withTotals`:
 * the total rows too (`dim` = '' or `dim`), selected the same way as the dimension's rows — a
 * dimension's default value is derived from them (see topValues).
 */
function where(scope: Scope, dim: string, f: StatsFilter, withTotals = false): { sql: string; params: unknown[] } {
  const params: unknown[] = [dim, iso(f.range.from), iso(f.range.to)];
  const parts = [withTotals ? `r.dim IN ('', $1)` : 'r.dim = $1', 'r.hour >= $2', 'r.hour < $3'];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  if ('linkId' in scope) {
    parts.unshift(`r.link_id = ${p(scope.linkId)}`);
  } else {
    const ws = p(scope.workspaceId);
    const domains = scope.domains ? ` AND domain = ANY(${p(scope.domains)})` : '';
    // totals have a workspace index; dimension rows are reached through the workspace's links
    if (dim === '' || withTotals) parts.unshift(`r.workspace_id = ${ws}`);
    if (dim !== '' || domains) parts.push(`r.link_id IN (SELECT id FROM links WHERE workspace_id = ${ws}${domains})`);
  }
  if (f.excludeBots) parts.push('NOT r.bot');
  return { sql: parts.join(' AND '), params };
}

/** A bucket of the series: clicks, visitors, and the clicks that were QR scans (source `qr`). */
export type SeriesPoint = { start: string } & Counts & { scans: number };

/**
 * Totals and a zero-filled series over the range. `scans` comes from the `source` dimension's `qr`
 * rows of the same rollups (a QR scan is a click with source qr), so scans ≤ clicks in every bucket.
 */
export async function totalsAndSeries(db: Queryable, scope: Scope, f: StatsFilter): Promise<{ totals: Counts & { scans: number }; series: SeriesPoint[] }> {
  const bin = `${INTERVAL_MS[f.range.interval] / 1000} seconds`;
  const binned = (dim: string, extra: string) => {
    const w = where(scope, dim, f);
    w.params.push(bin);
    return db.query<{ bucket: Date; clicks: string; visitors: string }>(
      `SELECT date_bin($${w.params.length}::interval, r.hour, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
              sum(r.clicks) AS clicks, sum(r.visitors) AS visitors
         FROM click_rollups_live r WHERE ${w.sql}${extra} GROUP BY 1`,
      w.params,
    );
  };
  const [all, qr] = await Promise.all([binned('', ''), binned('source', ` AND r.value = 'qr'`)]);
  const byBucket = new Map(all.rows.map((r) => [r.bucket.getTime(), r]));
  const scansByBucket = new Map(qr.rows.map((r) => [r.bucket.getTime(), Number(r.clicks)]));
  const totals = { clicks: 0, visitors: 0, scans: 0 };
  const series = bucketStarts(f.range).map((t) => {
    const r = byBucket.get(t);
    const c = { clicks: r ? Number(r.clicks) : 0, visitors: r ? Number(r.visitors) : 0, scans: scansByBucket.get(t) ?? 0 };
    totals.clicks += c.clicks;
    totals.visitors += c.visitors;
    totals.scans += c.scans;
    return { start: iso(t), ...c };
  });
  return { totals, series };
}

/**
 * Top values of `dim` ('' values reported as null = unknown), most clicks first. Ingest stores no
 * rows for a dimension's default value (DIM_DEFAULTS: unknown, or `click` for `source`): every
 * click counts once in the total and once in each dimension, so the default's clicks and visitors
 * are the total's minus the other values' (rows of the default written before are left out).
 */
export async function topValues(db: Queryable, scope: Scope, dim: StatsDimension, f: StatsFilter, limit: number): Promise<({ value: string | null } & Counts)[]> {
  if (dim === 'bot') {
    const w = where(scope, '', f);
    w.params.push(limit);
    const { rows } = await db.query<{ value: string; clicks: string; visitors: string }>(
      `SELECT CASE WHEN r.bot THEN 'bot' ELSE 'human' END AS value, sum(r.clicks) AS clicks, sum(r.visitors) AS visitors
         FROM click_rollups_live r WHERE ${w.sql}
        GROUP BY 1 ORDER BY sum(r.clicks) DESC, 1 LIMIT $${w.params.length}`,
      w.params,
    );
    return rows.map((r) => ({ value: r.value, clicks: Number(r.clicks), visitors: Number(r.visitors) }));
  }
  const w = where(scope, dim, f, true);
  const dflt = `$${w.params.push(DIM_DEFAULTS[dim])}`;
  const lim = `$${w.params.push(limit)}`;
  const { rows } = await db.query<{ value: string; clicks: string; visitors: string }>(
    `WITH g AS (
       SELECT r.dim = '' AS total, r.value, sum(r.clicks) AS clicks, sum(r.visitors) AS visitors
         FROM click_rollups_live r WHERE ${w.sql} AND (r.dim = '' OR r.value <> ${dflt})
        GROUP BY 1, 2),
     k AS (SELECT coalesce(sum(clicks), 0) AS clicks, coalesce(sum(visitors), 0) AS visitors FROM g WHERE NOT total)
     SELECT value, clicks, visitors FROM g WHERE NOT total
     UNION ALL
     SELECT ${dflt}, t.clicks - k.clicks, t.visitors - k.visitors FROM g t, k WHERE t.total AND t.clicks > k.clicks
     ORDER BY 2 DESC, 1 LIMIT ${lim}`,
    w.params,
  );
  return rows.map((r) => ({ value: r.value === '' ? null : r.value, clicks: Number(r.clicks), visitors: Number(r.visitors) }));
}

/** A link as a stats group: `value` is its id; `link` says where it lives (null fields: deleted for good). */
export interface TopLink extends Counts {
  value: string;
  link: { domain: string | null; path: string | null; short_url: string | null; deleted: boolean };
}

/** The workspace's links with the most clicks in the range. */
export async function topLinks(db: Queryable, auth: AuthContext, f: StatsFilter, limit: number, scheme: string): Promise<TopLink[]> {
  const w = where({ workspaceId: auth.workspaceId, domains: auth.domains }, '', f);
  w.params.push(limit);
  const { rows } = await db.query<{ link_id: string; clicks: string; visitors: string; domain: string | null; path: string | null; deleted: boolean | null }>(
    `SELECT t.link_id, t.clicks, t.visitors, l.domain, l.path, l.deleted_at IS NOT NULL AS deleted
       FROM (SELECT r.link_id, sum(r.clicks) AS clicks, sum(r.visitors) AS visitors
               FROM click_rollups_live r WHERE ${w.sql}
              GROUP BY r.link_id ORDER BY sum(r.clicks) DESC, r.link_id LIMIT $${w.params.length}) t
       LEFT JOIN links l ON l.id = t.link_id
      ORDER BY t.clicks DESC, t.link_id`,
    w.params,
  );
  return rows.map((r) => ({
    value: r.link_id,
    clicks: Number(r.clicks),
    visitors: Number(r.visitors),
    link: {
      domain: r.domain,
      path: r.path,
      short_url: r.domain !== null && r.path !== null ? shortUrl(scheme, r.domain, r.path) : null,
      deleted: r.deleted ?? false,
    },
  }));
}
