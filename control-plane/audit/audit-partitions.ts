/**
 * Month partitions of `audit_log`: kept two months ahead (created at start and by the maintenance
 * loop), dropped whole once the month ended more than AUDIT_RETENTION_DAYS ago. Dropping a
 * partition is the only way an entry leaves: the table refuses UPDATE, DELETE and TRUNCATE.
 */
import type { Queryable } from '../db/pool.js';

const MONTHS_AHEAD = 2;

/** Creates the partitions of this month and the next two (UTC). */
export async function ensureAuditPartitions(db: Queryable, now = new Date()): Promise<void> {
  for (let i = 0; i <= MONTHS_AHEAD; i++) {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
    await db.query('SELECT linkplane_ensure_audit_partition($1::timestamptz)', [month.toISOString()]);
  }
}

/** Drops every month partition that ends at or before `now − retentionDays`; returns their names. */
export async function dropExpiredAuditPartitions(db: Queryable, retentionDays: number, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const { rows } = await db.query<{ name: string; ends: Date }>(
    `SELECT c.relname AS name, (to_date(substring(c.relname from '_p([0-9]{6})$'), 'YYYYMM') + interval '1 month') AT TIME ZONE 'UTC' AS ends
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname = 'audit_log' AND c.relname ~ '^audit_log_p[0-9]{6}$'
      ORDER BY c.relname`,
  );
  const dropped: string[] = [];
  for (const r of rows) {
    if (r.ends.getTime() > cutoff.getTime()) continue;
    await db.query(`DROP TABLE ${r.name}`); // the name matched ^audit_log_p[0-9]{6}$
    dropped.push(r.name);
  }
  return dropped;
}
