-- A failed bulk item keeps the machine-readable details of its error (issue 16: a policy violation
-- in a job is a per-row error naming details.rule, as the API's 422 does).
ALTER TABLE job_errors ADD COLUMN details jsonb;
