-- Clicks (issue 4): raw click events partitioned by UTC day, hourly rollups per link, and the
-- per-day visitor sets that make "unique visitors" exact.
--
-- Stored exactly once: the click id is a UUIDv7 generated on the node, and ingest sets
-- occurred_at FROM THE ID's timestamp (never from a separate field). So one id always maps to one
-- occurred_at, hence one partition. The id also always travels with the link it was captured
-- for (a re-sent batch carries the same bytes). So the primary key (link_id, id, occurred_at) —
-- which Postgres needs to contain the partition key — is exactly as unique as the id, and the
-- same index serves "the clicks of a link, newest first": one index per raw row instead of two,
-- which is what lets COPY keep up with 50 000 clicks/s. A re-sent batch hits the same keys and is
-- skipped (ON CONFLICT DO NOTHING).

CREATE TABLE clicks (
  id             uuid        NOT NULL,
  occurred_at    timestamptz NOT NULL,            -- the UUIDv7 timestamp of id
  workspace_id   text        NOT NULL,
  link_id        text        NOT NULL,
  domain         text        NOT NULL,
  path           text        NOT NULL,
  destination    text        NOT NULL,
  rule_id        text,
  variant_id     text,
  country        text,
  device         text,
  os             text,
  browser        text,
  referrer_host  text,
  language       text,
  bot            boolean     NOT NULL,
  qr             boolean     NOT NULL,
  utm            jsonb,
  node_id        text        NOT NULL,
  visitor_hash   bytea       NOT NULL,            -- HMAC-SHA256 under a daily salt, first 16 bytes; never an IP
  received_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (link_id, id, occurred_at)            -- UUIDv7 order = time order: GET /v1/links/{id}/clicks
) PARTITION BY RANGE (occurred_at);

-- Who was already counted as a visitor of a link on a UTC day. Visitor hashes rotate daily,
-- so a day is the longest horizon over which a visitor can be recognised.
CREATE TABLE click_visitors (
  link_id       text  NOT NULL,
  day           date  NOT NULL,
  visitor_hash  bytea NOT NULL,
  PRIMARY KEY (link_id, day, visitor_hash)
) PARTITION BY RANGE (day);

-- Hourly rollups per link. dim '' is the total; other dims: country, device, os, browser,
-- referrer, variant, source (qr|click). value '' = unknown. visitors counts a visitor once per
-- UTC day, in the hour (and dimension values) of the first of its clicks that was ingested.
-- Ingest appends increments to click_rollup_deltas in the clicks' transaction (COPY, no index);
-- the compactor folds them in here; readers use click_rollups_live (both, one snapshot).
CREATE TABLE click_rollups (
  link_id       text        NOT NULL,
  dim           text        NOT NULL,
  hour          timestamptz NOT NULL,
  value         text        NOT NULL,
  bot           boolean     NOT NULL,
  workspace_id  text        NOT NULL,
  clicks        bigint      NOT NULL,
  visitors      bigint      NOT NULL,
  PRIMARY KEY (link_id, dim, hour, value, bot)
) WITH (fillfactor = 80);                          -- room for HOT updates: ingest only bumps counters
-- top links of a workspace over a range (totals only: one index entry per link-hour, not per value;
-- workspace-wide dimension stats go through the workspace's links and the primary key)
CREATE INDEX click_rollups_workspace ON click_rollups (workspace_id, hour) WHERE dim = '';

CREATE TABLE click_rollup_deltas (
  link_id       text        NOT NULL,
  dim           text        NOT NULL,
  hour          timestamptz NOT NULL,
  value         text        NOT NULL,
  bot           boolean     NOT NULL,
  workspace_id  text        NOT NULL,
  clicks        integer     NOT NULL,
  visitors      integer     NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 50000);

CREATE VIEW click_rollups_live AS
  SELECT link_id, dim, hour, value, bot, workspace_id, clicks, visitors FROM click_rollups
  UNION ALL
  SELECT link_id, dim, hour, value, bot, workspace_id, clicks, visitors FROM click_rollup_deltas;

-- Messages that could not be stored even alone (after retries): kept, never silently dropped.
-- A message whose events were partly invalid is kept here too (its valid events are stored).
CREATE TABLE click_dead_letters (
  id              bigserial PRIMARY KEY,
  stream_seq      bigint      NOT NULL,
  subject         text        NOT NULL,
  msg_id          text,
  payload         bytea       NOT NULL,
  payload_sha256  bytea       NOT NULL,
  error           text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_seq, payload_sha256)          -- a redelivered message is kept once
);

-- Creates the day partitions of clicks and click_visitors for `d` (idempotent, safe when two
-- control planes race: serialized by a transaction advisory lock).
CREATE FUNCTION linkplane_ensure_click_partitions(d date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  suffix text := to_char(d, 'YYYYMMDD');
BEGIN
  PERFORM pg_advisory_xact_lock(1819304811 /* 'lpck' */, (d - date '2000-01-01'));
  IF to_regclass('clicks_p' || suffix) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF clicks FOR VALUES FROM (%L) TO (%L)',
      'clicks_p' || suffix, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
  END IF;
  IF to_regclass('click_visitors_p' || suffix) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF click_visitors FOR VALUES FROM (%L) TO (%L)',
      'click_visitors_p' || suffix, d, d + 1);
  END IF;
END $$;

-- A fresh install can take clicks right away (maintenance keeps creating days ahead).
SELECT linkplane_ensure_click_partitions((now() AT TIME ZONE 'UTC')::date + i) FROM generate_series(-1, 7) AS i;
