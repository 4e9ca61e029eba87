/**
 * Day partitions of `clicks` and `click_visitors`: created ahead of time (and on demand for a day
 * ingest meets first), dropped when older than CLICK_RETENTION_DAYS. Rollups are kept.
 */
import type { Logger } from '../../shared/index.js';
import type { Pool, Queryable } from '../db/pool.js';
import { withClient } from './checkout.js';

export const DAY_MS = 86_400_000;
const MAINTENANCE_LOCK = 1819304812; // one maintainer at a time across control planes

/** UTC day number (days since the epoch) of epoch-ms `ms`. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);
/** 'YYYY-MM-DD' of a UTC day number. */
export const dayText = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

export interface PartitionWindow {
  retentionDays: number;
  aheadDays: number;
}

/** The days ingest accepts clicks for: [today − retention + 1, today + ahead]. */
export function acceptedDays(w: PartitionWindow, now = Date.now()): { first: number; last: number } {
  const today = dayOf(now);
  return { first: today - w.retentionDays + 1, last: today + w.aheadDays };
}

/** Remembers which day partitions exist so ingest asks Postgres only for a day it has not seen. */
export class PartitionCache {
  private readonly known = new Set<number>();

  async ensure(db: Queryable, days: Iterable<number>): Promise<void> {
    for (const d of days) {
      if (this.known.has(d)) continue;
      await db.query('SELECT linkplane_ensure_click_partitions($1::date)', [dayText(d)]);
      this.known.add(d);
    }
  }

  forget(day: number): void {
    this.known.delete(day);
  }
}

/** Creates partitions from yesterday to `aheadDays` ahead. */
export async function createPartitionsAhead(db: Queryable, aheadDays: number, now = Date.now()): Promise<void> {
  const today = dayOf(now);
  for (let d = today - 1; d <= today + aheadDays; d++) {
    await db.query('SELECT linkplane_ensure_click_partitions($1::date)', [dayText(d)]);
  }
}

/**
 * Detaches (CONCURRENTLY: inserts into other days never wait) and drops every day partition that
 * ends before the retention window. Returns the dropped partition names.
 */
export async function dropExpiredPartitions(pool: Pool, retentionDays: number, now = Date.now(), log?: Logger): Promise<string[]> {
  const cutoff = dayText(dayOf(now) - retentionDays + 1);
  const dropped: string[] = [];
  await withClient(pool, async (client) => {
    const { rows: lock } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MAINTENANCE_LOCK]);
    if (!lock[0]!.ok) return;
    try {
      // a detach cut short by a crash leaves the partition "detach pending": finish it first
      const { rows: pending } = await client.query<{ name: string; parent: string }>(
        `SELECT c.relname AS name, p.relname AS parent FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
          WHERE i.inhdetachpending AND p.relname IN ('clicks', 'click_visitors')`,
      );
      for (const r of pending) await client.query(`ALTER TABLE ${r.parent} DETACH PARTITION ${r.name} FINALIZE`);
      const expired = `to_date(substring(c.relname from '_p([0-9]{8})$'), 'YYYYMMDD') < $1::date`;
      const { rows: attached } = await client.query<{ parent: string; name: string }>(
        `SELECT p.relname AS parent, c.relname AS name
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
          WHERE p.relname IN ('clicks', 'click_visitors') AND c.relname ~ '_p[0-9]{8}$' AND ${expired}
          ORDER BY c.relname`,
        [cutoff],
      );
      for (const r of attached) await client.query(`ALTER TABLE ${r.parent} DETACH PARTITION ${r.name} CONCURRENTLY`);
      // detached now (or by an earlier run that died before dropping)
      const { rows: loose } = await client.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c
          WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relnamespace = current_schema()::regnamespace
            AND c.relname ~ '^(clicks|click_visitors)_p[0-9]{8}$' AND ${expired}
          ORDER BY c.relname`,
        [cutoff],
      );
      for (const r of loose) {
        await client.query(`DROP TABLE ${r.name}`);
        dropped.push(r.name);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK]).catch(() => undefined);
    }
  });
  if (dropped.length > 0) log?.info({ dropped, retentionDays }, 'expired click partitions dropped');
  return dropped;
}
