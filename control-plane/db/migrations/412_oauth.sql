-- OAuth2 client credentials (RFC 6749 §4.4): clients carry a role, scopes, domains and a rate limit
-- like API keys; their secret is stored hashed. JWT access tokens are signed by a rotating key whose
-- private half is sealed with SECRETS_KEY (secrets/secret-box.ts, context `jwt_signing_keys:<id>`).
CREATE TABLE oauth_clients (
  id                  text PRIMARY KEY,               -- oac_<ULID>: the client_id
  workspace_id        text NOT NULL REFERENCES workspaces(id),
  name                text NOT NULL,
  prefix              text NOT NULL,
  secret_hash         bytea NOT NULL UNIQUE,          -- sha256(client_secret)
  role                text NOT NULL,                  -- keys/roles.ts ROLES (checked by the API)
  scopes              text[] NOT NULL,
  domains             text[],
  rate_limit_burst    integer CHECK (rate_limit_burst > 0),
  rate_limit_per_sec  double precision CHECK (rate_limit_per_sec > 0),
  created_by          text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  revoked_at          timestamptz
);
CREATE INDEX oauth_clients_workspace ON oauth_clients (workspace_id, id);

CREATE TABLE jwt_signing_keys (
  id           text PRIMARY KEY,                      -- jwk_<ULID>: the JWT header's kid
  alg          text NOT NULL,
  public_jwk   jsonb NOT NULL,
  private_jwk  text NOT NULL,                         -- sealed
  created_at   timestamptz NOT NULL DEFAULT now(),
  retired_at   timestamptz                            -- stops signing; still verifies (and is published) until its tokens expired
);
