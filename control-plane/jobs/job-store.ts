/**
 * Jobs in Postgres: create (inside the upload's transaction), read, cancel, and finish —
 * final status, the job.succeeded / job.failed event and the callback row, all in the
 * transaction that completes the last batch (or cancels, or creates an empty job).
 */
import type { Actor } from '../audit/record.js';
import { recordAudit } from '../audit/record.js';
import type { PoolClient, Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { emitEvents } from '../events/emit.js';
import type { AuthContext } from '../keys/key-store.js';
import type { BulkOperation } from './bulk-item.js';
import { jobVisibleTo } from './job-access.js';
import { currentTraceparent } from '../tracing/index.js';
import type { BulkFormat } from './stage-upload.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'partially_succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled']);

export interface JobRow {
  id: string;
  seq: string;
  workspace_id: string;
  api_key_id: string;
  key_domains: string[] | null;
  operation: BulkOperation;
  format: BulkFormat;
  status: JobStatus;
  total: number;
  succeeded: number;
  failed: number;
  batch_size: number;
  batches_total: number;
  batches_done: number;
  batches_skipped: number;
  upload_bytes: string;
  request_hash: Buffer;
  idempotency_key: string | null;
  callback_url: string | null;
  callback_secret: string | null;
  upload_started_at: Date;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  cancel_requested_at: Date | null;
  event_id: string | null;
  /** The trace context of the request that created the job (its events and callback continue it). */
  traceparent: string | null;
}

export const JOB_COLUMNS = `id, seq::text AS seq, workspace_id, api_key_id, key_domains, operation, format, status, total, succeeded,
  failed, batch_size, batches_total, batches_done, batches_skipped, upload_bytes::text AS upload_bytes, request_hash,
  idempotency_key, callback_url, callback_secret, upload_started_at, created_at, started_at, finished_at,
  cancel_requested_at, event_id, traceparent`;

export interface JobCallbackState {
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
}

export interface JobResource {
  id: string;
  operation: BulkOperation;
  format: BulkFormat;
  status: JobStatus;
  counts: { total: number; succeeded: number; failed: number; pending: number };
  upload_bytes: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  cancel_requested_at: string | null;
  timings: { upload_ms: number; queued_ms: number | null; processing_ms: number | null; total_ms: number | null };
  callback: { url: string; state: JobCallbackState['state'] | 'waiting'; attempts: number; last_status: number | null; last_error: string | null } | null;
  errors_url: string;
  results_url: string;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const ms = (a: Date | null, b: Date | null) => (a && b ? b.getTime() - a.getTime() : null);

export function toJobResource(j: JobRow, callback: JobCallbackState | null = null): JobResource {
  return {
    id: j.id,
    operation: j.operation,
    format: j.format,
    status: j.status,
    counts: { total: j.total, succeeded: j.succeeded, failed: j.failed, pending: j.total - j.succeeded - j.failed },
    upload_bytes: Number(j.upload_bytes),
    created_at: j.created_at.toISOString(),
    started_at: iso(j.started_at),
    finished_at: iso(j.finished_at),
    cancel_requested_at: iso(j.cancel_requested_at),
    timings: {
      upload_ms: j.created_at.getTime() - j.upload_started_at.getTime(),
      queued_ms: ms(j.created_at, j.started_at),
      processing_ms: ms(j.started_at, j.finished_at),
      total_ms: ms(j.upload_started_at, j.finished_at),
    },
    callback: j.callback_url
      ? {
          url: j.callback_url,
          state: callback?.state ?? 'waiting',
          attempts: callback?.attempts ?? 0,
          last_status: callback?.last_status ?? null,
          last_error: callback?.last_error ?? null,
        }
      : null,
    errors_url: `/v1/jobs/${j.id}/errors`,
    results_url: `/v1/jobs/${j.id}/results`,
  };
}

/** The auth a job's items are checked with: the submitting key's workspace and domain limit. */
export function jobAuth(j: JobRow): AuthContext {
  return { keyId: j.api_key_id, workspaceId: j.workspace_id, role: 'publisher', scopes: new Set(['links:write']), domains: j.key_domains, rateLimit: null };
}

export interface NewJob {
  id: string;
  seq: string;
  auth: AuthContext;
  operation: BulkOperation;
  format: BulkFormat;
  total: number;
  batchSize: number;
  bytes: number;
  requestHash: Buffer;
  idempotencyKey: string | null;
  callbackUrl: string | null;
  callbackSecret: string | null;
  requestId: string;
  uploadStartedAt: Date;
}

export type InsertJobResult = { created: true; job: JobRow } | { created: false; job: JobRow };

/**
 * Inserts the job and its batches in the upload's transaction. With an idempotency key that a
 * job of the same API key already carries, nothing is inserted and that job is returned (the caller compares hashes).
 */
export async function insertJob(tx: PoolClient, j: NewJob): Promise<InsertJobResult> {
  const batches = Math.ceil(j.total / j.batchSize);
  const { rows } = await tx.query<JobRow>(
    `INSERT INTO jobs (id, seq, workspace_id, api_key_id, key_domains, operation, format, status, total, batch_size, batches_total,
       upload_bytes, request_hash, idempotency_key, callback_url, callback_secret, created_by_request, upload_started_at, created_at, traceparent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, clock_timestamp(), $18)
     ON CONFLICT (workspace_id, api_key_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
     RETURNING ${JOB_COLUMNS}`,
    [j.id, j.seq, j.auth.workspaceId, j.auth.keyId, j.auth.domains, j.operation, j.format, j.total, j.batchSize, batches,
      j.bytes, j.requestHash, j.idempotencyKey, j.callbackUrl, j.callbackSecret, j.requestId, j.uploadStartedAt, currentTraceparent()],
  );
  if (rows[0]) {
    if (batches > 0) {
      await tx.query(
        `INSERT INTO job_batches (job_seq, batch_no, first_idx, end_idx)
         SELECT $1, g, g * $2, least((g + 1) * $2, $3) FROM generate_series(0, $4 - 1) AS g`,
        [j.seq, j.batchSize, j.total, batches],
      );
    }
    return { created: true, job: rows[0] };
  }
  const existing = await tx.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE workspace_id = $1 AND api_key_id = $2 AND idempotency_key = $3`, [
    j.auth.workspaceId,
    j.auth.keyId,
    j.idempotencyKey,
  ]);
  return { created: false, job: existing.rows[0]! };
}

export async function getJob(db: Queryable, workspaceId: string, id: string): Promise<JobRow> {
  const { rows } = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND workspace_id = $2`, [id, workspaceId]);
  if (!rows[0]) throw errors.job_not_found({ id });
  return rows[0];
}

export async function getCallbackState(db: Queryable, seq: string): Promise<JobCallbackState | null> {
  const { rows } = await db.query<JobCallbackState>(
    'SELECT state, attempts, last_status, last_error, delivered_at FROM job_callbacks WHERE job_seq = $1',
    [seq],
  );
  return rows[0] ?? null;
}

/** The callback states of several jobs at once (a list page), by job seq. */
export async function getCallbackStates(db: Queryable, seqs: string[]): Promise<Map<string, JobCallbackState>> {
  if (seqs.length === 0) return new Map();
  const { rows } = await db.query<JobCallbackState & { job_seq: string }>(
    'SELECT job_seq::text AS job_seq, state, attempts, last_status, last_error, delivered_at FROM job_callbacks WHERE job_seq = ANY($1::bigint[])',
    [seqs],
  );
  return new Map(rows.map((r) => [r.job_seq, r]));
}

function finalStatus(j: JobRow): JobStatus {
  if (j.cancel_requested_at) return 'cancelled';
  if (j.failed === 0) return 'succeeded';
  return j.succeeded > 0 ? 'partially_succeeded' : 'failed';
}

/**
 * If every batch is done or skipped, finishes the job: final status, finished_at, the event and
 * the callback row. `j` must be the row as locked (FOR UPDATE) in `tx`. Returns the row after.
 */
export async function finishIfComplete(tx: PoolClient, j: JobRow): Promise<JobRow> {
  if (FINAL_STATUSES.has(j.status) || j.batches_done + j.batches_skipped < j.batches_total) return j;
  const status = finalStatus(j);
  const { rows } = await tx.query<JobRow>(
    `UPDATE jobs SET status = $2, finished_at = clock_timestamp(), started_at = coalesce(started_at, clock_timestamp()) WHERE seq = $1 RETURNING ${JOB_COLUMNS}`,
    [j.seq, status],
  );
  const done = rows[0]!;
  const type = status === 'succeeded' || status === 'partially_succeeded' ? 'job.succeeded' : 'job.failed';
  const [eventId] = await emitEvents(tx, [{ workspaceId: done.workspace_id, type, data: toJobResource(done), occurredAt: done.finished_at!, traceparent: done.traceparent }]);
  await tx.query('UPDATE jobs SET event_id = $2 WHERE seq = $1', [done.seq, eventId]);
  if (done.callback_url) {
    await tx.query(`INSERT INTO job_callbacks (job_seq, url) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [done.seq, done.callback_url]);
    await tx.query(`SELECT pg_notify('${JOBS_CHANNEL}', 'callback')`);
  }
  return { ...done, event_id: eventId ?? null };
}

export const JOBS_CHANNEL = 'linkplane_jobs';

/**
 * Cancels a queued or running job: batches not yet claimed are skipped; a batch in flight
 * finishes and is counted, and the last one to finish completes the job as `cancelled`.
 */
export async function cancelJob(tx: PoolClient, actor: Actor, id: string): Promise<JobRow> {
  const { rows } = await tx.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND workspace_id = $2 FOR UPDATE`, [
    id,
    actor.auth.workspaceId,
  ]);
  const j = rows[0];
  if (!j || !jobVisibleTo(actor.auth, j)) throw errors.job_not_found({ id });
  if (FINAL_STATUSES.has(j.status)) throw errors.job_not_cancellable({ id, status: j.status }, `job ${id} already finished (${j.status})`);
  if (j.cancel_requested_at) return j;
  const skipped = await tx.query(
    `UPDATE job_batches SET state = 'skipped' WHERE (job_seq, batch_no) IN (
       SELECT job_seq, batch_no FROM job_batches WHERE job_seq = $1 AND state = 'pending' FOR UPDATE SKIP LOCKED)`,
    [j.seq],
  );
  const upd = await tx.query<JobRow>(
    `UPDATE jobs SET cancel_requested_at = clock_timestamp(), batches_skipped = batches_skipped + $2 WHERE seq = $1 RETURNING ${JOB_COLUMNS}`,
    [j.seq, skipped.rowCount ?? 0],
  );
  await recordAudit(tx, actor, 'job.cancel', { type: 'job', id }, { skipped_batches: skipped.rowCount ?? 0 });
  return finishIfComplete(tx, upd.rows[0]!);
}
