/**
 * GET /v1/links: filters + keyset pagination on the time-ordered id (newest first).
 * Rows inserted while a client pages get larger ids, so they never shift a page:
 * no duplicates, no gaps. `total_estimate` is exact up to EXACT_COUNT_LIMIT (counted in the page's own
 * statement, and never past the bound), the planner's estimate above it.
 */
import type { Queryable } from '../db/pool.js';
import { decodeIdCursor, encodeIdCursor } from '../http/cursor.js';
import type { AuthContext } from '../keys/key-store.js';
import { LINK_COLUMNS, type LinkRow } from './link-row.js';

export interface LinkFilters {
  domain?: string;
  tag?: string;
  q?: string;
  created_from?: string;
  created_to?: string;
  updated_from?: string;
  updated_to?: string;
  status?: 'live' | 'pending';
  disabled?: boolean;
  external_id?: string;
  limit: number;
  cursor?: string;
}

/** Past this many matching links `total_estimate` is the planner's estimate (docs/api.md). */
export const EXACT_COUNT_LIMIT = 1_000;

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function listLinks(
  db: Queryable,
  auth: AuthContext,
  f: LinkFilters,
): Promise<{ rows: LinkRow[]; next_cursor: string | null; total_estimate: number }> {
  const where: string[] = ['workspace_id = $1', 'deleted_at IS NULL'];
  const params: unknown[] = [auth.workspaceId];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (auth.domains) add((p) => `domain = ANY(${p})`, auth.domains);
  if (f.domain) add((p) => `domain = ${p}`, f.domain.toLowerCase());
  if (f.tag) add((p) => `tags @> ARRAY[${p}]::text[]`, f.tag);
  if (f.q) add((p) => `(path ILIKE ${p} OR destination_url ILIKE ${p})`, `%${likeEscape(f.q)}%`);
  if (f.created_from) add((p) => `created_at >= ${p}`, f.created_from);
  if (f.created_to) add((p) => `created_at < ${p}`, f.created_to);
  if (f.updated_from) add((p) => `updated_at >= ${p}`, f.updated_from);
  if (f.updated_to) add((p) => `updated_at < ${p}`, f.updated_to);
  if (f.status) add((p) => `status = ${p}`, f.status);
  if (f.disabled !== undefined) add((p) => `disabled = ${p}`, f.disabled);
  if (f.external_id) add((p) => `external_id = ${p}`, f.external_id);
  const filterSql = where.join(' AND ');
  const filterParams = [...params];

  if (f.cursor) add((p) => `id < ${p}`, decodeIdCursor(f.cursor, 'ln'));
  params.push(f.limit + 1);
  // the page and the bounded count in one statement (the filter's parameters are a prefix of the page's)
  const countSql = `SELECT count(*) FROM (SELECT 1 FROM links WHERE ${filterSql} LIMIT ${EXACT_COUNT_LIMIT + 1}) x`;
  const { rows } = await db.query<LinkRow & { total_count: string }>(
    `SELECT ${LINK_COLUMNS}, (${countSql}) AS total_count FROM links WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  // an empty page after a cursor still reports the filter's total (an empty first page: 0)
  let total = rows.length > 0 ? Number(rows[0]!.total_count) : f.cursor ? Number((await db.query<{ count: string }>(countSql, filterParams)).rows[0]!.count) : 0;
  const more = rows.length > f.limit;
  if (more) rows.pop();
  if (total > EXACT_COUNT_LIMIT) {
    const plan = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM links WHERE ${filterSql}`,
      filterParams,
    );
    total = Math.max(EXACT_COUNT_LIMIT + 1, Math.round(plan.rows[0]!['QUERY PLAN'][0].Plan['Plan Rows']));
  }
  return { rows, next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null, total_estimate: total };
}
