/**
 * The rollup compactor against the real Postgres: a round folds exactly the delta rows it removes
 * (bounded rounds, rows already in click_rollups, deltas committed while it runs), so
 * click_rollups_live — what the stats routes read — answers the same before and after every round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, decodeClickColumns, encodeClickBatch } from '../../shared/index.js';
import { createTestDatabase, type TestDatabase } from '../../shared/testing/index.js';
import { createPool } from '../db/pool.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { ClickSet, RollupCompactor, storeClicks } from '../ingest/index.js';
import { makeClicks, type FixtureLink } from './click-fixtures.js';
import { EXPECTED_ROLLUPS } from './rollup-oracle.js';

type Pool = ReturnType<typeof createPool>;
const log = createLogger({ name: 'test-compaction', level: 'silent' });
const HOUR = '2026-12-03T10:00:00Z';

/** Appends `n` delta rows as ingest would: (link, hour, bot) groups, keys repeated across rows. */
async function appendDeltas(q: { query: Pool['query'] }, n: number, seed: number): Promise<void> {
  await q.query(
    `INSERT INTO click_rollup_deltas (link_id, hour, bot, workspace_id, dims, vals, clicks, visitors)
     SELECT 'lnk_' || (i % 5), $2::timestamptz + ((i % 2) * interval '1 hour'), i % 7 = 0, 'ws_1',
            CASE WHEN i % 3 = 0 THEN ARRAY[''] ELSE ARRAY['', 'country', 'os'] END,
            CASE WHEN i % 3 = 0 THEN ARRAY[''] ELSE ARRAY['', 'C' || (i % 4), 'O' || (i % 3)] END,
            CASE WHEN i % 3 = 0 THEN ARRAY[1 + (i + $3) % 3] ELSE ARRAY[2 + (i + $3) % 3, 1, 2] END,
            CASE WHEN i % 3 = 0 THEN ARRAY[(i + $3) % 2] ELSE ARRAY[1, (i + $3) % 2, 1] END
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
/** Distinct (link, hour, bot) keys that click_rollups_live holds. */
const keys = async (pool: Pool) =>
  (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM (SELECT DISTINCT link_id, hour, bot FROM click_rollups_live) k')).rows[0]!.n;

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
    // one compacted row per (link, hour, bot), every dimension's counters in it (migration 106)
    expect(await count(pool, 'click_rollup_hours')).toBe(await keys(pool));
    expect(await count(pool, 'click_rollups')).toBe(0);
    // more increments for keys already compacted: merged into the stored rows
    await appendDeltas(pool, 90, 1);
    const again = await live(pool);
    await compactor.drain();
    expect(await count(pool, 'click_rollup_deltas')).toBe(0);
    expect(await live(pool)).toBe(again);
    expect(await count(pool, 'click_rollup_hours')).toBe(await keys(pool));
    // a stored row holds each (dimension, value) once
    const { rows } = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM click_rollup_hours h, unnest(h.dims, h.vals) AS u(dim, value)
        GROUP BY h.link_id, h.hour, h.bot, u.dim, u.value HAVING count(*) > 1) x`,
    );
    expect(rows[0]!.n).toBe(0);
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

describe('rollup compaction past a row\'s most values', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('rollup_row_cap');
    pool = createPool(db.url, { max: 2 });
    await migrate(pool, log);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('keeps at most maxValuesPerRow values in a row and adds the rest to narrow rows, every sum unchanged', async () => {
    const capped = new RollupCompactor({ pool, log, everyMs: 1_000_000, maxValuesPerRow: 3 });
    const widest = async () => (await pool.query<{ n: number }>('SELECT max(cardinality(dims))::int AS n FROM click_rollup_hours')).rows[0]!.n;
    // each (link, hour, bot) gets up to 5 values: new rows and then stored rows meet the bound
    for (const seed of [6, 7, 8]) {
      await appendDeltas(pool, 140, seed);
      const before = await live(pool);
      await capped.drain();
      expect(await count(pool, 'click_rollup_deltas')).toBe(0);
      expect(await live(pool)).toBe(before);
      expect(await widest()).toBe(3);
      expect(await count(pool, 'click_rollups')).toBeGreaterThan(0);
    }
    // a row stored with more values (a larger bound before) keeps them and takes its increments
    await new RollupCompactor({ pool, log, everyMs: 1_000_000, maxValuesPerRow: 100 }).drain();
    await pool.query(`TRUNCATE click_rollup_hours, click_rollups`);
    await appendDeltas(pool, 140, 9);
    await new RollupCompactor({ pool, log, everyMs: 1_000_000, maxValuesPerRow: 100 }).drain();
    expect(await widest()).toBe(5);
    await appendDeltas(pool, 140, 10);
    const before = await live(pool);
    await capped.drain();
    expect(await live(pool)).toBe(before);
    expect(await widest()).toBe(5);
    expect(await count(pool, 'click_rollups')).toBe(0);
  });
});

describe('migration 105 (rollup increments as arrays per link, hour and bot flag)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('rollup_delta_arrays');
    pool = createPool(db.url, { max: 2 });
    for (const m of loadMigrations().filter((x) => x.version < '105')) await pool.query(m.sql);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('keeps every increment not yet compacted: click_rollups_live answers the same, before and after compaction', async () => {
    // the old layout: one row per (link, dimension, value, hour, bot), keys repeated across rows
    await pool.query(
      `INSERT INTO click_rollup_deltas (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
       SELECT 'lnk_' || (i % 4), (ARRAY['', 'country', 'os', 'referrer'])[1 + i % 4], $1::timestamptz + ((i % 3) * interval '1 hour'),
              CASE WHEN i % 4 = 0 THEN '' ELSE 'v' || (i % 5) END, i % 6 = 0, 'ws_' || (i % 4), 1 + i % 4, i % 2
         FROM generate_series(1, 500) AS i`,
      [HOUR],
    );
    await pool.query(
      `INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
       VALUES ('lnk_1', '', $1, '', false, 'ws_1', 1000, 300), ('lnk_1', 'country', $1, 'v1', false, 'ws_1', 40, 7)`,
      [HOUR],
    );
    const before = await live(pool);
    const groups = (await pool.query<{ n: number }>('SELECT count(DISTINCT (link_id, hour, bot))::int AS n FROM click_rollup_deltas')).rows[0]!.n;
    expect(groups).toBeGreaterThan(6);
    await pool.query(loadMigrations().find((m) => m.version.startsWith('105_'))!.sql);
    expect(await count(pool, 'click_rollup_deltas')).toBe(groups);
    expect(await live(pool)).toBe(before);
    // this release's compactor writes the layout of migration 106
    await pool.query(loadMigrations().find((m) => m.version.startsWith('106_'))!.sql);
    expect(await live(pool)).toBe(before);
    await new RollupCompactor({ pool, log, everyMs: 1_000_000 }).drain();
    expect(await count(pool, 'click_rollup_deltas')).toBe(0);
    expect(await live(pool)).toBe(before);
  });
});

describe('migration 106 (compacted rollups as one row per link, hour and bot flag)', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('rollup_hours');
    pool = createPool(db.url, { max: 2 });
    for (const m of loadMigrations().filter((x) => x.version < '106')) await pool.query(m.sql);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('moves every compacted rollup row into its (link, hour, bot) row: click_rollups_live answers the same, before and after compaction', async () => {
    // the old layout: one compacted row per (link, dimension, value, hour, bot)
    await pool.query(
      `INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
       SELECT 'lnk_' || l, d.dim, $1::timestamptz + (h * interval '1 hour'), d.value, b, 'ws_1', 10 * l + h + 1, l + h
         FROM generate_series(0, 5) AS l, generate_series(0, 3) AS h, (VALUES (false), (true)) AS bb(b),
              (VALUES ('', ''), ('country', 'DE'), ('country', 'US'), ('os', 'ios'), ('utm_content', 'x'), ('source', 'qr')) AS d(dim, value)
        WHERE NOT (b AND h = 3)`,
      [HOUR],
    );
    // increments not yet compacted, for keys stored and not
    await appendDeltas(pool, 120, 5);
    const before = await live(pool);
    const stored = (await pool.query<{ n: number }>('SELECT count(DISTINCT (link_id, hour, bot))::int AS n FROM click_rollups')).rows[0]!.n;
    expect(stored).toBe(6 * 4 * 2 - 6);
    await pool.query(loadMigrations().find((m) => m.version.startsWith('106_'))!.sql);
    expect(await count(pool, 'click_rollups')).toBe(0);
    expect(await count(pool, 'click_rollup_hours')).toBe(stored);
    expect(await live(pool)).toBe(before);
    await new RollupCompactor({ pool, log, everyMs: 1_000_000 }).drain();
    expect(await count(pool, 'click_rollup_deltas')).toBe(0);
    expect(await count(pool, 'click_rollup_hours')).toBe(await keys(pool));
    expect(await live(pool)).toBe(before);
    // narrow rows written after the migration (a control plane of the previous release still
    // compacting during a rolling upgrade) are counted too
    await pool.query(
      `INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
       VALUES ('lnk_1', '', $1, '', false, 'ws_1', 5, 2), ('lnk_1', 'country', $1, 'DE', false, 'ws_1', 5, 2)`,
      [HOUR],
    );
    const { rows } = await pool.query<{ c: number; v: number }>(
      `SELECT sum(clicks)::int AS c, sum(visitors)::int AS v FROM click_rollups_live
        WHERE link_id = 'lnk_1' AND dim = 'country' AND value = 'DE' AND hour = $1 AND NOT bot`,
      [HOUR],
    );
    expect(rows[0]).toEqual({ c: 11 + 5, v: 1 + 2 });
  });
});

describe('rollup increments of one large (link, hour, bot) group', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('rollup_delta_split');
    pool = createPool(db.url, { max: 2 });
    await migrate(pool, log);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const expected = async () =>
    JSON.stringify((await pool.query(`SELECT * FROM (${EXPECTED_ROLLUPS}) e ORDER BY 1, 2, 3, 4, 5`)).rows);
  const got = async () =>
    JSON.stringify((await pool.query(`SELECT link_id, dim, hour, value, bot, sum(clicks)::int AS clicks, sum(visitors)::int AS visitors
      FROM click_rollups_live GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`)).rows);

  it('spans several delta rows (each below TOAST size) and still counts every click once', async () => {
    const links: FixtureLink[] = [{ id: 'lnk_big', workspaceId: 'ws_big', domain: 'go.example.com', path: 'with-utm' }];
    const hourStart = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    // 400 clicks of one link in one hour, each with its own long UTM content: ~40 kB of values
    const clicks = makeClicks(400, links, { start: hourStart, seed: 3 }).map((c, i) => ({
      ...c, bot: false, deviceClass: 'desktop', utm: { source: 'newsletter', content: `content-${i}-${'x'.repeat(80)}` },
    }));
    const set = new ClickSet([decodeClickColumns(encodeClickBatch({ v: 1, nodeId: 'node-t', batchId: 'big-1', events: clicks }))]);
    const r = await storeClicks(pool, set, { subscriptions: new Map(), scheme: 'https' });
    expect(r.inserted).toBe(400);
    const { rows } = await pool.query<{ n: number; widest: number }>(
      `SELECT count(*)::int AS n, max(pg_column_size(d.*))::int AS widest FROM click_rollup_deltas d WHERE link_id = 'lnk_big'`,
    );
    expect(rows[0]!.n).toBeGreaterThan(10);
    expect(rows[0]!.widest).toBeLessThan(2032); // TOAST_TUPLE_THRESHOLD
    expect(await got()).toBe(await expected());
    await new RollupCompactor({ pool, log, everyMs: 1_000_000 }).drain();
    expect(await count(pool, 'click_rollup_deltas')).toBe(0);
    expect(await got()).toBe(await expected());
  });
});
