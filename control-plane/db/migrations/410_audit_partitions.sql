-- The audit trail becomes readable (GET /v1/audit), append-only and partitioned by month so the
-- retention job drops whole months (AUDIT_RETENTION_DAYS). Ids become `aud_<ULID>` like every
-- other resource id (time-ordered: the pagination key). Entries also name who acted: an API key
-- or an OAuth client, with its name at the time.

ALTER TABLE audit_log RENAME TO audit_log_v1;
DROP INDEX IF EXISTS audit_log_resource;

CREATE TABLE audit_log (
  id               text NOT NULL,                 -- aud_<ULID>
  workspace_id     text NOT NULL,
  actor_type       text NOT NULL DEFAULT 'api_key' CHECK (actor_type IN ('api_key', 'oauth_client')),
  actor_key_id     text,                          -- the API key, when actor_type = api_key
  actor_client_id  text,                          -- the OAuth client, when actor_type = oauth_client
  actor_name       text,
  action           text NOT NULL,                 -- e.g. link.create, key.revoke
  resource_type    text NOT NULL,
  resource_id      text NOT NULL,
  request_id       text,
  ip               text,                          -- client address, for the audit only
  user_agent       text,
  changes          jsonb,
  at               timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_log_ws ON audit_log (workspace_id, id);
CREATE INDEX audit_log_ws_resource ON audit_log (workspace_id, resource_type, resource_id, id);
CREATE INDEX audit_log_ws_actor ON audit_log (workspace_id, actor_key_id, id);
CREATE INDEX audit_log_ws_client ON audit_log (workspace_id, actor_client_id, id) WHERE actor_client_id IS NOT NULL;
CREATE INDEX audit_log_ws_action ON audit_log (workspace_id, action, id);

-- Append-only: no UPDATE, DELETE or TRUNCATE; old months leave only by dropping their partition.
CREATE FUNCTION linkplane_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION linkplane_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION linkplane_audit_append_only();

-- The month partition holding `t` (UTC months), created if missing: audit_log_pYYYYMM.
CREATE FUNCTION linkplane_ensure_audit_partition(t timestamptz) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  m timestamp := date_trunc('month', t AT TIME ZONE 'UTC');
  name text := 'audit_log_p' || to_char(m, 'YYYYMM');
BEGIN
  IF to_regclass(name) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
      name, (m AT TIME ZONE 'UTC'), ((m + interval '1 month') AT TIME ZONE 'UTC'));
    -- statement triggers are not inherited: each month refuses TRUNCATE itself
    EXECUTE format('CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION linkplane_audit_append_only()', name);
  END IF;
END $$;

-- Legacy rows keep their time and order: a ULID from their time and their old serial id.
CREATE FUNCTION pg_temp.legacy_ulid(t timestamptz, n bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  b32 text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  ms bigint := floor(extract(epoch FROM t) * 1000);
  out text := '';
BEGIN
  FOR i IN 1..10 LOOP out := substr(b32, (ms % 32)::int + 1, 1) || out; ms := ms / 32; END LOOP;
  out := out || '0000'; -- then 12 characters (60 bits) of the old id
  FOR i IN 1..12 LOOP out := out || substr(b32, ((n >> (5 * (12 - i))) & 31)::int + 1, 1); END LOOP;
  RETURN 'aud_' || out;
END $$;

DO $$
DECLARE
  m timestamptz := date_trunc('month', coalesce((SELECT min(at) FROM audit_log_v1), now()) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
BEGIN
  WHILE m < now() + interval '3 months' LOOP
    PERFORM linkplane_ensure_audit_partition(m);
    m := m + interval '1 month';
  END LOOP;
END $$;

INSERT INTO audit_log (id, workspace_id, actor_type, actor_key_id, actor_name, action, resource_type, resource_id, request_id, ip, user_agent, changes, at)
SELECT pg_temp.legacy_ulid(l.at, l.id), l.workspace_id, 'api_key', l.actor_key_id, k.name, l.action, l.resource_type, l.resource_id,
       l.request_id, l.ip, l.user_agent, l.changes, l.at
  FROM audit_log_v1 l LEFT JOIN api_keys k ON k.id = l.actor_key_id;
DROP TABLE audit_log_v1;
