-- link_outbox kept two indexes on seq: its primary key and link_outbox_unpublished (seq) WHERE
-- published_at IS NULL. The relay deletes a row once it is published and never sets published_at
-- (relay.ts), so both index every row the same way: the partial one cost each outbox row an index
-- insert (a bulk import writes one row per link; 2–4 µs of Postgres CPU a row measured with
-- bench/micro/bulk-batch.ts) and bought nothing. The relay's and the live lane's reads (unpublished
-- rows in seq order) use the primary key.
DROP INDEX IF EXISTS link_outbox_unpublished;
