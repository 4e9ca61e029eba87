-- linkplane core schema: workspaces, keys, domains, links, idempotency, outboxes, audit.
-- Later migrations add jobs, webhooks and clicks (numbered 1xx, 2xx, 3xx by area).

CREATE TABLE workspaces (
  id          text PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id                  text PRIMARY KEY,                 -- key_<ulid>
  workspace_id        text NOT NULL REFERENCES workspaces(id),
  name                text NOT NULL,
  prefix              text NOT NULL,                    -- first characters of the secret, for display
  secret_hash         bytea NOT NULL UNIQUE,            -- sha256(secret); the secret itself is never stored
  role                text NOT NULL CHECK (role IN ('admin', 'publisher', 'analyst', 'read-only')),
  scopes              text[] NOT NULL,
  domains             text[],                           -- NULL = every domain of the workspace
  rate_limit_burst    integer CHECK (rate_limit_burst > 0),
  rate_limit_per_sec  double precision CHECK (rate_limit_per_sec > 0),
  created_by          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  last_used_at        timestamptz,
  revoked_at          timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, id);

CREATE TABLE domains (
  id                       text PRIMARY KEY,            -- dom_<ulid>
  workspace_id             text NOT NULL REFERENCES workspaces(id),
  hostname                 text NOT NULL,
  not_found_url            text,
  expired_url              text,
  utm_template             jsonb,
  default_redirect_status  smallint CHECK (default_redirect_status IN (301, 302, 307, 308)),
  version                  integer NOT NULL DEFAULT 1,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  deleted_at               timestamptz
);
CREATE UNIQUE INDEX domains_hostname_live ON domains (hostname) WHERE deleted_at IS NULL;
CREATE INDEX domains_workspace ON domains (workspace_id, id);

CREATE TABLE links (
  id               text PRIMARY KEY,                    -- ln_<ulid>: time-ordered, the pagination key
  workspace_id     text NOT NULL REFERENCES workspaces(id),
  domain_id        text NOT NULL REFERENCES domains(id),
  domain           text NOT NULL,                       -- hostname, denormalized for lookups
  path             text NOT NULL,
  destination_url  text NOT NULL,
  utm              jsonb,
  routing          jsonb,
  redirect_status  smallint CHECK (redirect_status IN (301, 302, 307, 308)),
  forward_query    boolean NOT NULL DEFAULT false,
  tags             text[] NOT NULL DEFAULT '{}',
  expires_at       timestamptz,
  disabled         boolean NOT NULL DEFAULT false,
  status           text NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'pending')),
  metadata         jsonb NOT NULL DEFAULT '{}',
  external_id      text,
  version          integer NOT NULL DEFAULT 1,
  created_by       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz
);
CREATE UNIQUE INDEX links_domain_path_live ON links (domain, path) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX links_external_id_live ON links (workspace_id, external_id)
  WHERE deleted_at IS NULL AND external_id IS NOT NULL;
CREATE INDEX links_workspace_id ON links (workspace_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX links_workspace_updated ON links (workspace_id, updated_at) WHERE deleted_at IS NULL;
CREATE INDEX links_tags ON links USING gin (tags) WHERE deleted_at IS NULL;
CREATE INDEX links_domain_id ON links (domain_id) WHERE deleted_at IS NULL;

-- Idempotency: one row per (workspace, key). The response is written in the same transaction
-- as the change it describes; an in-flight row whose lease expired may be taken over.
CREATE TABLE idempotency_keys (
  workspace_id      text NOT NULL,
  idem_key          text NOT NULL,
  api_key_id        text NOT NULL,
  method            text NOT NULL,
  path              text NOT NULL,
  request_hash      bytea NOT NULL,
  state             text NOT NULL CHECK (state IN ('in_flight', 'completed')),
  locked_until      timestamptz,
  response_status   integer,
  response_headers  jsonb,
  response_body     text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  completed_at      timestamptz,
  expires_at        timestamptz NOT NULL DEFAULT now() + interval '24 hours',
  PRIMARY KEY (workspace_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Link outbox: every change to what nodes serve, written in the change's transaction and
-- published to the KV bucket by the relay in seq order.
CREATE TABLE link_outbox (
  seq           bigserial PRIMARY KEY,
  kv_key        text NOT NULL,
  op            text NOT NULL CHECK (op IN ('put', 'del')),
  payload       bytea,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
CREATE INDEX link_outbox_unpublished ON link_outbox (seq) WHERE published_at IS NULL;

-- Event outbox: webhook events (catalog in shared/events.ts), written in the causing transaction.
CREATE TABLE events (
  id             uuid PRIMARY KEY,
  workspace_id   text NOT NULL,
  type           text NOT NULL,
  occurred_at    timestamptz NOT NULL DEFAULT now(),
  data           jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  dispatched_at  timestamptz
);
CREATE INDEX events_undispatched ON events (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX events_workspace_type ON events (workspace_id, type, occurred_at);

CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  workspace_id   text NOT NULL,
  actor_key_id   text,
  action         text NOT NULL,          -- e.g. link.create, key.revoke
  resource_type  text NOT NULL,
  resource_id    text NOT NULL,
  request_id     text,
  ip             text,
  user_agent     text,
  changes        jsonb,
  at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_resource ON audit_log (workspace_id, resource_type, resource_id, at);
