-- Issue 16: link policies (a workspace's, and per-domain overrides) and the review flow.

-- domain_id '' is the workspace policy (every rule); a domain id holds that domain's overrides
-- (only the rules it sets). PUT replaces a row whole.
CREATE TABLE policies (
  workspace_id  text NOT NULL REFERENCES workspaces(id),
  domain_id     text NOT NULL DEFAULT '',
  rules         jsonb NOT NULL,
  updated_by    text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, domain_id)
);

-- A link waiting for review (status 'pending'): the key whose change waits, and, for a live link
-- re-pointed under review, the values nodes keep serving until it is approved (null for a new link).
ALTER TABLE links
  ADD COLUMN review_requested_by text,
  ADD COLUMN live_values jsonb;

-- The reviewer role: approves or rejects pending links (scope links:approve).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'publisher', 'analyst', 'read-only', 'reviewer'));
