-- Tracing (issue 16, docs/operations.md "Tracing"): the W3C trace context (`traceparent`) of the
-- request that caused a row travels with it, so the relay's NATS message, the webhook delivery and the
-- job callback continue the caller's trace. NULL: no trace context (no header, tracing off, or a
-- background writer). Nullable columns without a default: a catalog change, no table rewrite.
ALTER TABLE events ADD COLUMN traceparent text;
ALTER TABLE link_outbox ADD COLUMN traceparent text;
ALTER TABLE jobs ADD COLUMN traceparent text;

-- webhook_claim (203) also returns the event's traceparent: its result type changes, so it is
-- dropped and created again (body unchanged apart from the last column).
DROP FUNCTION webhook_claim(int, int, uuid, int);
CREATE FUNCTION webhook_claim(p_limit int, p_default_cap int, p_token uuid, p_lease_ms int)
RETURNS TABLE (id text, attempts int, cycle_attempts int, lease_token uuid, endpoint_id text, workspace_id text,
               event_id uuid, event_type text, occurred_at timestamptz, data text, url text, secrets text, endpoint_failing boolean,
               traceparent text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  eps text[];
  t timestamptz;
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
  t := clock_timestamp();
  RETURN QUERY
  WITH room AS (
    -- live leases end within the lease time, so the due index bounds the count
    SELECT e.id, COALESCE(e.max_concurrency, p_default_cap) - (
             SELECT count(*) FROM webhook_deliveries d
             WHERE d.endpoint_id = e.id AND d.status IN ('pending', 'failed')
               AND d.next_attempt_at > t AND d.next_attempt_at <= t + p_lease_ms * interval '1 millisecond'
               AND d.lease_token IS NOT NULL) AS free
    FROM webhook_endpoints e WHERE e.id = ANY(eps)
  ), picked AS (
    SELECT p.* FROM room CROSS JOIN LATERAL (
      SELECT d.id, d.next_attempt_at, d.lease_token IS NOT NULL AS lease_expired, d.leased_at AS prev_leased_at
      FROM webhook_deliveries d
      WHERE d.endpoint_id = room.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= t
      ORDER BY d.next_attempt_at
      LIMIT LEAST(GREATEST(room.free, 0), p_limit)
      FOR UPDATE OF d SKIP LOCKED
    ) p
    ORDER BY p.next_attempt_at
    LIMIT p_limit
  ), upd AS (
    UPDATE webhook_deliveries d
    SET attempts = d.attempts + 1, cycle_attempts = d.cycle_attempts + 1, lease_token = p_token, leased_at = t,
        next_attempt_at = t + p_lease_ms * interval '1 millisecond', updated_at = t
    FROM picked WHERE d.id = picked.id
    RETURNING d.id, d.attempts, d.cycle_attempts, d.lease_token, d.endpoint_id, d.workspace_id, d.event_id, d.event_type,
              picked.lease_expired, picked.prev_leased_at
  ), lost AS (
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, finished_at, error, error_detail)
    SELECT upd.id, upd.attempts - 1, COALESCE(upd.prev_leased_at, t), t, 'interrupted',
           'the dispatcher stopped before recording the outcome'
    FROM upd WHERE upd.lease_expired AND upd.attempts > 1
    ON CONFLICT (delivery_id, attempt) DO NOTHING
  ), eps_used AS (
    SELECT e.id, e.url, e.failing_since,
      (SELECT json_agg(json_build_object('id', s.id, 'secret', s.secret) ORDER BY s.created_at DESC)
       FROM webhook_secrets s WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > t))::text AS secrets
    FROM webhook_endpoints e WHERE e.id IN (SELECT DISTINCT upd.endpoint_id FROM upd)
  )
  SELECT upd.id, upd.attempts, upd.cycle_attempts, upd.lease_token, upd.endpoint_id, upd.workspace_id, upd.event_id, upd.event_type,
         ev.occurred_at, ev.data::text, eu.url, eu.secrets, eu.failing_since IS NOT NULL, ev.traceparent
  FROM upd JOIN events ev ON ev.id = upd.event_id JOIN eps_used eu ON eu.id = upd.endpoint_id;
END
$$;
