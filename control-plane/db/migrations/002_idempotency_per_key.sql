-- Idempotency records belong to the API key that made them (issue 12): one row per
-- (workspace, API key, Idempotency-Key). Keyed by workspace alone, any key of the workspace could
-- recover another key's stored response (an admin's new key secret) or poison its key with a
-- stored 403.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (workspace_id, api_key_id, idem_key);
