-- Webhook queue, lighter on writes (measured by the webhooks bench):
-- * attempts are written once, when they finish; an attempt cut short by a crash is recorded as
--   'interrupted' when its delivery is leased again, starting at the lease time kept here;
-- * in-flight deliveries are counted through the due index (their lease expiry bounds the range),
--   so the separate lease index and its per-claim writes go;
-- * the table churns like a queue: let autovacuum keep its indexes lean.
ALTER TABLE webhook_deliveries ADD COLUMN leased_at timestamptz;
DROP INDEX webhook_deliveries_leased;
ALTER TABLE webhook_deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_scale_factor = 0.05);
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.05);
