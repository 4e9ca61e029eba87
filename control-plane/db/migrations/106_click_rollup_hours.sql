-- Compacted rollups as one row per (link, hour, bot flag) holding every dimension's counters in
-- parallel arrays (issue 17), instead of one row per (link, dimension, value, hour, bot). The
-- compactor upserted about 0.73 rollup rows per click on the bench's traffic (a link clicked a few
-- times in an hour has a country, a device, an OS, a browser, a referrer, a node…), at ~10 µs of
-- Postgres CPU each (heap tuple, index entry, speculative insertion): the largest part of ingest's
-- Postgres CPU. Now a compaction round writes one row per (link, hour, bot) it touches — the
-- stored arrays merged with the round's increments — as a plain UPDATE or INSERT. A row holds at
-- most a bound of values (the compactor's, 256); values past it go to narrow rows in click_rollups.
--
-- click_rollups keeps its layout and stays in click_rollups_live: readers count the rows it holds
-- (this migration moves them here; a control plane of the previous release, during a rolling
-- upgrade, still folds narrow rows into it), and the compactor only writes click_rollup_hours.
-- click_rollups_live unnests the arrays, so readers see the same (link, dim, hour, value, bot) rows.
CREATE TABLE click_rollup_hours (
  link_id       text        NOT NULL,
  hour          timestamptz NOT NULL,
  bot           boolean     NOT NULL,
  workspace_id  text        NOT NULL,
  dims          text[]      NOT NULL,   -- '' = the total, else a rollup dimension
  vals          text[]      NOT NULL,   -- value per dims entry ('' = unknown)
  clicks        bigint[]    NOT NULL,
  visitors      bigint[]    NOT NULL,
  PRIMARY KEY (link_id, hour, bot),
  CHECK (cardinality(dims) = cardinality(vals) AND cardinality(dims) = cardinality(clicks) AND cardinality(dims) = cardinality(visitors))
) WITH (fillfactor = 70);                  -- room for HOT updates: a round rewrites the rows it touches
-- top links and totals of a workspace over a range (one entry per link-hour and bot flag)
CREATE INDEX click_rollup_hours_workspace ON click_rollup_hours (workspace_id, hour);

-- The compactor's merge of a stored row with a round's increments for it (each (dim, value) once in
-- both): counts added where the value is stored, new values appended while the row holds fewer than
-- `most`, the rest returned as over_* (the compactor adds them to narrow rows in click_rollups). Work
-- per increment, not per stored value: re-aggregating the stored values with the increments in SQL
-- cost ~6 µs per stored value, so a link-hour clicked once per round cost more than its narrow
-- upserts had.
CREATE FUNCTION linkplane_rollup_merge(sd text[], sv text[], sc bigint[], sw bigint[], nd text[], nv text[], nc bigint[], nw bigint[], most int,
  OUT dims text[], OUT vals text[], OUT clicks bigint[], OUT visitors bigint[],
  OUT over_dims text[], OUT over_vals text[], OUT over_clicks bigint[], OUT over_visitors bigint[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  i int;
  p int;
  n int := cardinality(sd);
BEGIN
  dims := sd; vals := sv; clicks := sc; visitors := sw;
  FOR i IN 1 .. cardinality(nd) LOOP
    -- values rarely repeat across dimensions: find the value, then check its dimension
    p := array_position(vals, nv[i]);
    WHILE p IS NOT NULL AND dims[p] <> nd[i] LOOP
      p := array_position(vals, nv[i], p + 1);
    END LOOP;
    IF p IS NOT NULL THEN
      clicks[p] := clicks[p] + nc[i];
      visitors[p] := visitors[p] + nw[i];
    ELSIF n < most THEN
      n := n + 1;
      dims[n] := nd[i]; vals[n] := nv[i]; clicks[n] := nc[i]; visitors[n] := nw[i];
    ELSE
      over_dims := over_dims || nd[i]; over_vals := over_vals || nv[i];
      over_clicks := over_clicks || nc[i]; over_visitors := over_visitors || nw[i];
    END IF;
  END LOOP;
END $$;

-- the rollups compacted so far, with their sums unchanged
INSERT INTO click_rollup_hours (link_id, hour, bot, workspace_id, dims, vals, clicks, visitors)
SELECT link_id, hour, bot, min(workspace_id), array_agg(dim ORDER BY dim, value), array_agg(value ORDER BY dim, value),
       array_agg(clicks ORDER BY dim, value), array_agg(visitors ORDER BY dim, value)
  FROM click_rollups GROUP BY link_id, hour, bot;
TRUNCATE click_rollups;

DROP VIEW click_rollups_live;
CREATE VIEW click_rollups_live AS
  SELECT link_id, dim, hour, value, bot, workspace_id, clicks, visitors FROM click_rollups
  UNION ALL
  SELECT h.link_id, u.dim, h.hour, u.value, h.bot, h.workspace_id, u.clicks, u.visitors
    FROM click_rollup_hours h, unnest(h.dims, h.vals, h.clicks, h.visitors) AS u(dim, value, clicks, visitors)
  UNION ALL
  SELECT d.link_id, u.dim, d.hour, u.value, d.bot, d.workspace_id, u.clicks, u.visitors
    FROM click_rollup_deltas d, unnest(d.dims, d.vals, d.clicks, d.visitors) AS u(dim, value, clicks, visitors);
