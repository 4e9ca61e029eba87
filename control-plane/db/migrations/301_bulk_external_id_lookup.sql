-- Bulk jobs look links up by external_id, a batch of them at a time. links_external_id_live
-- (workspace_id, external_id) serves that, but with stale statistics (a table that just grew by
-- a million rows) the planner may probe through another workspace_id index instead and scan the
-- workspace's every link per item. This index lets the batch lookup name external_id alone, so
-- no workspace_id index applies (the workspace is checked on the rows found).
CREATE INDEX links_external_id_lookup ON links (external_id) WHERE deleted_at IS NULL AND external_id IS NOT NULL;
