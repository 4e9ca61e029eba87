-- Webhooks: endpoints, their signing secrets, one delivery per (event, endpoint), every attempt.
-- Events come from the `events` outbox (001); the fan-out turns each into deliveries and marks
-- it dispatched in the same transaction. Dispatchers lease due deliveries with SKIP LOCKED.

CREATE TABLE webhook_endpoints (
  id               text PRIMARY KEY,                        -- whe_<ulid>
  workspace_id     text NOT NULL REFERENCES workspaces(id),
  url              text NOT NULL,
  description      text,
  event_types      text[] NOT NULL,                         -- exact types, prefix wildcards ('link.*'), or '*'
  enabled          boolean NOT NULL DEFAULT true,
  disabled_reason  text CHECK (disabled_reason IN ('manual', 'gone', 'failing')),
  disabled_at      timestamptz,
  max_concurrency  integer CHECK (max_concurrency BETWEEN 1 AND 1000),  -- NULL = WEBHOOK_ENDPOINT_CONCURRENCY
  failing_since    timestamptz,                             -- first failed attempt since the last success
  metadata         jsonb NOT NULL DEFAULT '{}',
  created_by       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id, id) WHERE deleted_at IS NULL;
-- "which enabled endpoints does this workspace have" (fan-out, and producers deciding whether to emit)
CREATE INDEX webhook_endpoints_live ON webhook_endpoints (workspace_id) WHERE enabled AND deleted_at IS NULL;

-- Does an endpoint's event filter take this event type? Exact types, prefix wildcards
-- ('link.*' takes link.created; 'qr.*' takes qr.scan.created) and '*'. Mirrors event-filter.ts.
CREATE FUNCTION webhook_filter_matches(patterns text[], event_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT EXISTS (
    SELECT 1 FROM unnest(patterns) AS p
    WHERE p = event_type OR p = '*' OR (right(p, 2) = '.*' AND starts_with(event_type, left(p, -1)))
  )
$$;

-- Signing secrets. The key id (k=) tells receivers which secret signed; rotation sets expires_at
-- on the current secrets (the overlap window) and adds a new one.
CREATE TABLE webhook_secrets (
  id           text PRIMARY KEY,                            -- whk_<ulid>: the key id
  endpoint_id  text NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
  secret       text NOT NULL,                               -- whsec_<base64>; needed to sign, never returned again
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz                                  -- NULL = current; signing uses secrets not yet expired
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id, created_at DESC);

CREATE TABLE webhook_deliveries (
  id                text PRIMARY KEY,                       -- whd_<ulid>
  workspace_id      text NOT NULL,
  endpoint_id       text NOT NULL REFERENCES webhook_endpoints(id),
  event_id          uuid NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  event_type        text NOT NULL,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
  attempts          integer NOT NULL DEFAULT 0,             -- attempts made so far (Event-Attempt of the last)
  cycle_attempts    integer NOT NULL DEFAULT 0,             -- attempts since created or replayed (indexes the schedule)
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),     -- when due; while leased, when the lease expires
  lease_token       uuid,                                   -- set while a dispatcher is sending it
  last_status_code  integer,
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  delivered_at      timestamptz,
  dead_at           timestamptz,
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint_id) WHERE lease_token IS NOT NULL;
CREATE INDEX webhook_deliveries_workspace ON webhook_deliveries (workspace_id, id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
-- the dead-letter queue: small, listed and replayed per endpoint, counted for the DLQ-depth metric
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (endpoint_id, id) WHERE status = 'dead';

-- One row per attempt, written when the attempt starts (so an attempt cut short by a crash is
-- still visible) and completed with its outcome.
CREATE TABLE webhook_attempts (
  delivery_id    text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
  attempt        integer NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  duration_ms    integer,
  status_code    integer,
  error          text,                                      -- stable code: timeout, connection_refused, http_status, …
  error_detail   text,                                      -- the underlying message
  response_body  text,                                      -- the first 1 KB
  PRIMARY KEY (delivery_id, attempt)
);

-- Retention: old dispatched events are purged (their finished deliveries and attempts cascade);
-- the events table is append-only, so a BRIN index on created_at finds them for almost nothing.
CREATE INDEX events_created_brin ON events USING brin (created_at);
