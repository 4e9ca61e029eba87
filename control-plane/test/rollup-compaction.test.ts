/**
 * The rollup compactor against the real Postgres: a round folds exactly the delta rows it removes
 * (bounded rounds, rows already in click_rollups, deltas committed while it runs), so
 * click_rollups_live — what the stats routes read — answers the same before and after every round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import { createTestDatabase, type TestDatabase } from '../../shared/testing/index.js';
import { createPool } from '../db/pool.js';
import { migrate } from '../db/migrate.js';
import { RollupCompactor } from '../ingest/index.js';

type Pool = ReturnType<typeof createPool>;
const log = createLogger({ name: 'test-compaction', level: 'silent' });
const HOUR = '2026-12-03T10:00:00Z';

/** Appends `n` delta rows as ingest would (several rows per rollup key, some keys repeated). */
async function appendDeltas(q: { query: Pool['query'] }, n: number, seed: number): Promise<void> {
  await q.query(
    `INSERT INTO click_rollup_deltas (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
     SELECT 'lnk_' || (i % 5), CASE WHEN i % 3 = 0 THEN '' ELSE 'country' END, $2::timestamptz + ((i % 2) * interval '1 hour'),
            CASE WHEN i % 3 = 0 THEN '' ELSE 'C' || (i % 4) END, i % 7 = 0, 'ws_1', 1 + (i + $3) % 3, (i + $3) % 2
       FROM generate_series(1, $1::int) AS i`,
    [n, HOUR, seed],
  );
}

async function live(pool: Pool): Promise<string> {
  const { rows } = await pool.query(
    `SELECT link_id, dim, hour, value, bot, min(workspace_id) AS w, sum(clicks)::int AS c, sum(visitors)::int AS v
       FROM click_rollups_live GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
  );
  return JSON.stringify(rows);
}

const count = async (pool: Pool, table: string) => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

describe('rollup compaction', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('rollup_compaction');
    pool = createPool(db.url, { max: 4 });
    await migrate(pool, log);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('folds bounded rounds exactly: each round moves at most `batch` rows and live sums never change', async () => {
    await appendDeltas(pool, 200, 0);
    const before = await live(pool);
    const compactor = new RollupCompactor({ pool, log, everyMs: 1_000_000, batch: 37 });
    let left = await count(pool, 'click_rollup_deltas');
    for (;;) {
      const moved = await compactor.compactOnce();
      expect(moved).toBeLessThanOrEqual(37);
      const now = await count(pool, 'click_rollup_deltas');
      expect(now).toBe(left - moved);
      left = now;
      expect(await live(pool)).toBe(before);
      if (moved === 0) break;
    }
    expect(left).toBe(0);
    // more increments for keys already compacted: added to the stored rows
    await appendDeltas(pool, 90, 1);
    const again = await live(pool);
    await compactor.drain();
    expect(await count(pool, 'click_rollup_deltas')).toBe(0);
    expect(await live(pool)).toBe(again);
  });

  it('leaves deltas committed after a round started for the next round (neither lost nor counted twice)', async () => {
    const compactor = new RollupCompactor({ pool, log, everyMs: 1_000_000 });
    await compactor.drain();
    await appendDeltas(pool, 50, 2);
    const other = await pool.connect();
    try {
      await other.query('BEGIN');
      await appendDeltas(other, 40, 3); // not yet committed: invisible to the round
      const roundMoved = await compactor.compactOnce();
      expect(roundMoved).toBe(50);
      await other.query('COMMIT');
    } finally {
      other.release();
    }
    const expected = await live(pool);
    expect(await count(pool, 'click_rollup_deltas')).toBe(40);
    await compactor.drain();
    expect(await count(pool, 'click_rollup_deltas')).toBe(0);
    expect(await live(pool)).toBe(expected);
  });

  it('one compactor at a time: a round while another holds the lock folds nothing', async () => {
    await appendDeltas(pool, 10, 4);
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(1819304813)');
      const compactor = new RollupCompactor({ pool, log, everyMs: 1_000_000 });
      expect(await compactor.compactOnce()).toBe(0);
      await holder.query('COMMIT');
      expect(await compactor.compactOnce()).toBe(10);
    } finally {
      holder.release();
    }
  });
});
