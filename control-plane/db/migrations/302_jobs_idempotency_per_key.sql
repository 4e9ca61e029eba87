-- A bulk job's idempotency_key is the submitting API key's (issue 12): another key re-posting the
-- same idempotency_key gets its own job, never the first job's id or callback secret.
DROP INDEX jobs_idempotency;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (workspace_id, api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
