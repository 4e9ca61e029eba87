-- API keys may expire (401 key_expired after expires_at); last_used_at is written in batches by
-- the control plane (keys/last-used.ts), at most once a minute per key.
ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
