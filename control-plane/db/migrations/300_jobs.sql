-- Bulk jobs (issue 6): a job, its staged items, its batches (the unit of work and of retry),
-- per-item errors, and the completion callback.
--
-- The upload is one transaction: items are COPYed into job_items as the body streams in, and the
-- job row and its batches are inserted at the end. A bad body rolls everything back, so a job
-- never exists half-uploaded. Workers in every control plane claim batches with
-- FOR UPDATE SKIP LOCKED and commit a batch's links, outbox rows, errors, results and the job's
-- counters in ONE transaction: a crashed worker's batch rolls back and is claimed again.

CREATE TABLE jobs (
  id                   text PRIMARY KEY,                    -- job_<ulid>
  seq                  bigint NOT NULL UNIQUE,              -- compact key of the item tables (nextval at upload start)
  workspace_id         text NOT NULL REFERENCES workspaces(id),
  api_key_id           text NOT NULL,
  key_domains          text[],                              -- the submitting key's domain limit (NULL = all)
  operation            text NOT NULL CHECK (operation IN ('create', 'upsert', 'update', 'disable', 'delete')),
  format               text NOT NULL CHECK (format IN ('json', 'ndjson', 'csv')),
  status               text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'partially_succeeded', 'failed', 'cancelled')),
  total                integer NOT NULL,
  succeeded            integer NOT NULL DEFAULT 0,
  failed               integer NOT NULL DEFAULT 0,
  batch_size           integer NOT NULL,
  batches_total        integer NOT NULL,
  batches_done         integer NOT NULL DEFAULT 0,
  batches_skipped      integer NOT NULL DEFAULT 0,          -- not run because the job was cancelled
  upload_bytes         bigint NOT NULL,
  request_hash         bytea NOT NULL,                      -- sha256 of format, query and body bytes
  idempotency_key      text,
  callback_url         text,
  callback_secret      text,                                -- whsec_…: signs the callback; returned once at submission
  created_by_request   text,
  upload_started_at    timestamptz NOT NULL,                -- first byte of the request
  created_at           timestamptz NOT NULL DEFAULT now(),  -- upload committed (accepted)
  started_at           timestamptz,                         -- first batch committed
  finished_at          timestamptz,
  cancel_requested_at  timestamptz,
  event_id             uuid,                                -- the job.succeeded / job.failed event
  items_purged_at      timestamptz                          -- staged items dropped (after the job finished)
);
CREATE SEQUENCE jobs_seq OWNED BY jobs.seq;
CREATE UNIQUE INDEX jobs_idempotency ON jobs (workspace_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_workspace ON jobs (workspace_id, id DESC);
CREATE INDEX jobs_active ON jobs (seq) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_unpurged ON jobs (seq) WHERE finished_at IS NOT NULL AND items_purged_at IS NULL;
CREATE INDEX jobs_finished ON jobs (finished_at);

-- Staged items, as JSON text (CSV rows are mapped to the same JSON shape while streaming).
-- No foreign key: the job row is inserted after the COPY, in the same transaction.
CREATE TABLE job_items (
  job_seq  bigint NOT NULL,
  idx      integer NOT NULL,                                -- 0-based position in the upload
  item     text NOT NULL,
  PRIMARY KEY (job_seq, idx)
);

CREATE TABLE job_batches (
  job_seq     bigint NOT NULL,
  batch_no    integer NOT NULL,
  first_idx   integer NOT NULL,
  end_idx     integer NOT NULL,                               -- exclusive
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'skipped')),
  attempts    integer NOT NULL DEFAULT 0,                     -- failed attempts (errors, not crashes)
  not_before  timestamptz,                                    -- retry backoff after a failed attempt
  last_error  text,
  succeeded   integer,
  failed      integer,
  results     text,                                           -- NDJSON lines of this batch's items, in order
  done_at     timestamptz,
  PRIMARY KEY (job_seq, batch_no)
);
CREATE INDEX job_batches_pending ON job_batches (job_seq, batch_no) WHERE state = 'pending';

-- One row per failed item (the first problem found), paged by item index.
CREATE TABLE job_errors (
  job_seq      bigint NOT NULL,
  idx          integer NOT NULL,
  external_id  text,
  code         text NOT NULL,
  field        text,
  message      text NOT NULL,
  PRIMARY KEY (job_seq, idx)
);

-- The completion POST to callback_url, retried on failure (30 s, 2 m, 10 m, 1 h, then given up).
CREATE TABLE job_callbacks (
  job_seq          bigint PRIMARY KEY,
  url              text NOT NULL,
  state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_status      integer,
  last_error       text,
  delivered_at     timestamptz
);
CREATE INDEX job_callbacks_due ON job_callbacks (next_attempt_at) WHERE state = 'pending';
