-- Leasing due deliveries, as one function so one round trip does it with exact per-endpoint
-- concurrency across control planes. Two statements, two snapshots (plpgsql, READ COMMITTED):
--  1. lock the endpoints with due work that no other claimer holds (SKIP LOCKED); the locks are
--     held to the end of the caller's transaction;
--  2. count their live leases and lease up to the remaining room. This statement's snapshot is
--     taken after the locks were granted, so it sees every lease committed by the previous holder
--     (a single statement would count with a snapshot from before it waited: too many in flight).
-- An expired lease found here means the attempt it covered was cut short: recorded 'interrupted'.
CREATE FUNCTION webhook_claim(p_limit int, p_default_cap int, p_token uuid, p_lease_ms int)
RETURNS TABLE (id text, attempts int, cycle_attempts int, lease_token uuid, endpoint_id text, workspace_id text,
               event_id uuid, event_type text, occurred_at timestamptz, data text, url text, secrets text, endpoint_failing boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  eps text[];
BEGIN
  SELECT array_agg(x.id ORDER BY x.id) INTO eps FROM (
    SELECT e.id FROM webhook_endpoints e
    WHERE e.enabled AND e.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM webhook_deliveries d
                  WHERE d.endpoint_id = e.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= now())
    ORDER BY e.id
    FOR NO KEY UPDATE OF e SKIP LOCKED
  ) x;
  IF eps IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH room AS (
    -- live leases end within the lease time, so the due index bounds the count
    SELECT e.id, COALESCE(e.max_concurrency, p_default_cap) - (
             SELECT count(*) FROM webhook_deliveries d
             WHERE d.endpoint_id = e.id AND d.status IN ('pending', 'failed')
               AND d.next_attempt_at > now() AND d.next_attempt_at <= now() + p_lease_ms * interval '1 millisecond'
               AND d.lease_token IS NOT NULL) AS free
    FROM webhook_endpoints e WHERE e.id = ANY(eps)
  ), picked AS (
    SELECT p.* FROM room CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at, d.lease_token IS NOT NULL AS lease_expired, d.leased_at AS prev_leased_at
      FROM webhook_deliveries d
      WHERE d.endpoint_id = room.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
      ORDER BY d.next_attempt_at
      LIMIT LEAST(GREATEST(room.free, 0), p_limit)
      FOR UPDATE OF d SKIP LOCKED
    ) p
    ORDER BY p.next_attempt_at
    LIMIT p_limit
  ), upd AS (
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, cycle_attempts = d.cycle_attempts + 1, lease_token = p_token, leased_at = now(),
        next_attempt_at = now() + p_lease_ms * interval '1 millisecond', updated_at = now()
    FROM picked WHERE d.id = picked.id
    RETURNING d.id, d.attempts, d.cycle_attempts, d.lease_token, d.endpoint_id, d.workspace_id, d.event_id, d.event_type,
              picked.lease_expired, picked.prev_leased_at
  ), lost AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, finished_at, error, error_detail)
    SELECT upd.id, upd.attempts - 1, COALESCE(upd.prev_leased_at, now()), now(), 'interrupted',
           'the dispatcher stopped before recording the outcome'
    FROM upd WHERE upd.lease_expired AND upd.attempts > 1
    ON CONFLICT (delivery_id, attempt) DO NOTHING
  ), eps_used AS (
    SELECT e.id, e.url, e.failing_since,
      (SELECT json_agg(json_build_object('id', s.id, 'secret', s.secret) ORDER BY s.created_at DESC)
       FROM webhook_secrets s WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now()))::text AS secrets
    FROM webhook_endpoints e WHERE e.id IN (SELECT DISTINCT upd.endpoint_id FROM upd)
  )
  SELECT upd.id, upd.attempts, upd.cycle_attempts, upd.lease_token, upd.endpoint_id, upd.workspace_id, upd.event_id, upd.event_type,
         ev.occurred_at, ev.data::text, eu.url, eu.secrets, eu.failing_since IS NOT NULL
  FROM upd JOIN events ev ON ev.id = upd.event_id JOIN eps_used eu ON eu.id = upd.endpoint_id;
END
$$;
