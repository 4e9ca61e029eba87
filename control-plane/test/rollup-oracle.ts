/**
 * The rollup oracle shared by the click tests: rollup rows recomputed from the raw clicks, in every
 * dimension ingest rolls up (click-rollup.ts), and a check that the live rollups agree with them.
 * A dimension's default value (DIM_DEFAULTS: '' = unknown, `click` for `source`) has no rows: readers
 * derive it as the total minus the dimension's other values.
 */
import type { Pool } from 'pg';
import { expect } from 'vitest';

/** Rollup rows recomputed from the raw clicks (visitor = first click by id per link, day, visitor). */
export const EXPECTED_ROLLUPS = `
  WITH c AS (
    SELECT *, row_number() OVER (PARTITION BY link_id, (occurred_at AT TIME ZONE 'UTC')::date, visitor_hash ORDER BY id) = 1 AS first
      FROM clicks)
  SELECT link_id, dim, hour, value, bot, count(*)::int AS clicks, (count(*) FILTER (WHERE first))::int AS visitors
    FROM c CROSS JOIN LATERAL (VALUES
      ('', ''), ('country', coalesce(country, '')), ('device', coalesce(device, '')), ('os', coalesce(os, '')),
      ('browser', coalesce(browser, '')), ('referrer', coalesce(referrer_host, '')),
      ('variant', CASE WHEN variant_id IS NULL THEN '' WHEN rule_id IS NULL THEN variant_id ELSE rule_id || '/' || variant_id END),
      ('source', CASE WHEN qr THEN 'qr' ELSE 'click' END), ('language', coalesce(language, '')),
      ('rule', coalesce(rule_id, '')), ('node', node_id),
      ('utm_source', coalesce(utm->>'source', '')), ('utm_medium', coalesce(utm->>'medium', '')),
      ('utm_campaign', coalesce(utm->>'campaign', '')), ('utm_term', coalesce(utm->>'term', '')),
      ('utm_content', coalesce(utm->>'content', ''))) AS d(dim, value),
    LATERAL (SELECT date_bin('1 hour', occurred_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour) h
   WHERE d.dim = '' OR d.value <> CASE d.dim WHEN 'source' THEN 'click' ELSE '' END
   GROUP BY 1, 2, 3, 4, 5`;

/**
 * Clicks per rollup key equal the raw rows; each (link, day) counts each visitor once in the totals;
 * no dimension's stored values count more clicks or visitors than the total of their link, hour and
 * bot flag (the rest is the dimension's default value).
 */
export async function rollupsAgree(pool: Pool): Promise<void> {
  const clicksOff = await pool.query(`
    SELECT r.link_id, r.dim, r.hour, r.value, r.bot, r.clicks, c.clicks AS want FROM
      (SELECT link_id, dim, hour, value, bot, sum(clicks)::int AS clicks FROM click_rollups_live GROUP BY 1, 2, 3, 4, 5) r
      FULL JOIN (SELECT link_id, dim, hour, value, bot, clicks FROM (${EXPECTED_ROLLUPS}) e) c USING (link_id, dim, hour, value, bot)
     WHERE r.clicks IS DISTINCT FROM c.clicks LIMIT 5`);
  expect(clicksOff.rows).toEqual([]);
  const visitorsOff = await pool.query(`
    WITH v AS (SELECT link_id, (hour AT TIME ZONE 'UTC')::date AS day, sum(visitors)::int AS visitors
                 FROM click_rollups_live WHERE dim = '' GROUP BY 1, 2),
         d AS (SELECT link_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, count(DISTINCT visitor_hash)::int AS n FROM clicks GROUP BY 1, 2)
    SELECT * FROM v FULL JOIN d USING (link_id, day) WHERE v.visitors IS DISTINCT FROM d.n LIMIT 5`);
  expect(visitorsOff.rows).toEqual([]);
  const overTotal = await pool.query(`
    WITH s AS (SELECT link_id, dim, hour, bot, sum(clicks) AS clicks, sum(visitors) AS visitors FROM click_rollups_live GROUP BY 1, 2, 3, 4)
    SELECT x.* FROM s x JOIN s t ON t.dim = '' AND (t.link_id, t.hour, t.bot) = (x.link_id, x.hour, x.bot)
     WHERE x.dim <> '' AND (x.clicks > t.clicks OR x.visitors > t.visitors) LIMIT 5`);
  expect(overTotal.rows).toEqual([]);
}
