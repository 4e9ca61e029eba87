-- Rollups keep no row for a dimension's default value (issue 17): '' (unknown) in every dimension,
-- and 'click' in `source`. Every click counts once in the total (dim '') and once in each
-- dimension, so the default's clicks and visitors are the total's minus the dimension's other
-- values, per link, hour and bot flag; the stats queries derive them (analytics/stats-query.ts) and
-- ignore such rows where they remain (written by an older control plane, or by migration 101).
-- Most clicks hold the default in most dimensions (no UTM medium, term or content, no rule, no
-- variant, not a QR scan): a link clicked a few times in an hour upserted 16 rollup rows per hour
-- and bot flag, now about half as many. This removes the rows already stored.
DELETE FROM click_rollups WHERE dim <> '' AND (value = '' OR (dim = 'source' AND value = 'click'));
DELETE FROM click_rollup_deltas WHERE dim <> '' AND (value = '' OR (dim = 'source' AND value = 'click'));
