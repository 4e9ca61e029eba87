-- Rollup increments as one row per (link, hour, bot flag) and ingest transaction, holding that
-- group's dimensions, values and counts in parallel arrays (issue 17), instead of one row per
-- (link, dimension, value, hour, bot). Ingest appended about 2.3 delta rows per click (a link
-- clicked a few times in an hour has a country, an OS, a browser, a device, a referrer…), and
-- each row cost its COPY, then its DELETE and its read in the compactor. click_rollups keeps its
-- layout; click_rollups_live unnests the arrays, so readers see the same rows as before.
-- A group can span several rows (ingest splits a row before it grows past ~2 kB, TOAST's
-- threshold); readers and the compactor sum over rows either way.
CREATE TABLE click_rollup_delta_groups (
  link_id       text        NOT NULL,
  hour          timestamptz NOT NULL,
  bot           boolean     NOT NULL,
  workspace_id  text        NOT NULL,
  dims          text[]      NOT NULL,   -- '' = the total, else a rollup dimension
  vals          text[]      NOT NULL,   -- value per dims entry ('' = unknown)
  clicks        integer[]   NOT NULL,
  visitors      integer[]   NOT NULL,
  CHECK (cardinality(dims) = cardinality(vals) AND cardinality(dims) = cardinality(clicks) AND cardinality(dims) = cardinality(visitors))
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

-- the increments not yet compacted, with their sums unchanged
INSERT INTO click_rollup_delta_groups (link_id, hour, bot, workspace_id, dims, vals, clicks, visitors)
SELECT link_id, hour, bot, min(workspace_id), array_agg(dim ORDER BY dim, value), array_agg(value ORDER BY dim, value),
       array_agg(clicks ORDER BY dim, value), array_agg(visitors ORDER BY dim, value)
  FROM (SELECT link_id, hour, bot, dim, value, min(workspace_id) AS workspace_id, sum(clicks)::int AS clicks, sum(visitors)::int AS visitors
          FROM click_rollup_deltas GROUP BY link_id, hour, bot, dim, value) s
 GROUP BY link_id, hour, bot;

DROP VIEW click_rollups_live;
DROP TABLE click_rollup_deltas;
ALTER TABLE click_rollup_delta_groups RENAME TO click_rollup_deltas;

CREATE VIEW click_rollups_live AS
  SELECT link_id, dim, hour, value, bot, workspace_id, clicks, visitors FROM click_rollups
  UNION ALL
  SELECT d.link_id, u.dim, d.hour, u.value, d.bot, d.workspace_id, u.clicks, u.visitors
    FROM click_rollup_deltas d, unnest(d.dims, d.vals, d.clicks, d.visitors) AS u(dim, value, clicks, visitors);
