/**
 * Day partitions: created ahead, created on demand for a day ingest meets, dropped (detached
 * concurrently) past CLICK_RETENTION_DAYS — rows of the days kept are untouched, rollups stay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import { createTestDatabase, type TestDatabase } from '../../shared/testing/index.js';
import { migrate } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';
import { ClickMaintenance, createPartitionsAhead, dayOf, dayText, DAY_MS, dropExpiredPartitions } from '../ingest/index.js';

async function partitions(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
      WHERE p.relname IN ('clicks', 'click_visitors') ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

const suffix = (day: number) => dayText(day).replace(/-/g, '');

describe('click partitions', () => {
  let db: TestDatabase;
  let pool: Pool;
  const today = dayOf(Date.now());

  beforeAll(async () => {
    db = await createTestDatabase('clkparts');
    pool = createPool(db.url, { max: 3 });
    await migrate(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('the migration creates yesterday to a week ahead, for raw clicks and visitor sets', async () => {
    const names = await partitions(pool);
    for (let d = today - 1; d <= today + 7; d++) {
      expect(names).toContain(`clicks_p${suffix(d)}`);
      expect(names).toContain(`click_visitors_p${suffix(d)}`);
    }
  });

  it('creates days ahead idempotently (two at once do not collide)', async () => {
    await Promise.all([createPartitionsAhead(pool, 20), createPartitionsAhead(pool, 20)]);
    const names = await partitions(pool);
    expect(names).toContain(`clicks_p${suffix(today + 20)}`);
    expect(names.filter((n) => n === `clicks_p${suffix(today + 20)}`)).toHaveLength(1);
  });

  it('drops whole days past the retention window and keeps the rest, rows and rollups included', async () => {
    for (const d of [today - 40, today - 31, today - 30, today - 29]) {
      await pool.query('SELECT linkplane_ensure_click_partitions($1::date)', [dayText(d)]);
      await pool.query(
        `INSERT INTO clicks (id, occurred_at, workspace_id, link_id, domain, path, destination, bot, qr, node_id, visitor_hash)
         VALUES (gen_random_uuid(), $1, 'ws', 'ln_x', 'd.example', 'p', 'https://e.example/', false, false, 'n', '\\x00')`,
        [new Date(d * DAY_MS + 3_600_000)],
      );
      await pool.query(`INSERT INTO click_rollups VALUES ('ln_x', '', $1, '', false, 'ws', 1, 1)`, [new Date(d * DAY_MS)]);
    }
    const dropped = await dropExpiredPartitions(pool, 30, Date.now(), createLogger({ name: 't', level: 'silent' }));
    // 30 days kept: today and the 29 before it
    expect(dropped).toEqual([
      `click_visitors_p${suffix(today - 40)}`, `click_visitors_p${suffix(today - 31)}`, `click_visitors_p${suffix(today - 30)}`,
      `clicks_p${suffix(today - 40)}`, `clicks_p${suffix(today - 31)}`, `clicks_p${suffix(today - 30)}`,
    ]);
    const left = await pool.query<{ day: string }>(`SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM clicks ORDER BY 1`);
    expect(left.rows.map((r) => r.day)).toEqual([dayText(today - 29)]);
    expect((await pool.query('SELECT count(*)::int AS n FROM click_rollups')).rows[0].n).toBe(4);
    const stray = await pool.query(`SELECT relname FROM pg_class WHERE relname = $1`, [`clicks_p${suffix(today - 40)}`]);
    expect(stray.rows).toEqual([]);
  });

  it('maintenance runs both steps and logs instead of throwing', async () => {
    const m = new ClickMaintenance({ pool, log: createLogger({ name: 't', level: 'silent' }), retentionDays: 1, aheadDays: 3 });
    await m.runOnce();
    const names = await partitions(pool);
    expect(names.filter((n) => n.startsWith('clicks_p')).sort()[0]).toBe(`clicks_p${suffix(today)}`);
    const broken = new ClickMaintenance({ pool: createPool('postgres://postgres@127.0.0.1:1/nowhere', { max: 1 }), log: createLogger({ name: 't', level: 'silent' }), retentionDays: 1, aheadDays: 1 });
    await expect(broken.runOnce()).resolves.toBeUndefined();
  });
});
