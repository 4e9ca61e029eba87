/** Bulk job request/response schemas (TypeBox): validation, types and the OpenAPI document. */
import { Type } from '@sinclair/typebox';
import { BULK_FORMATS, BULK_OPERATIONS, BulkItem, CSV_COLUMNS, JOB_STATUSES } from '../jobs/index.js';
import { Id, Nullable, WithDefault } from './schemas.js';

const Timestamp = Type.String({ format: 'date-time' });
const Operation = Type.Union(BULK_OPERATIONS.map((o) => Type.Literal(o)));

export const BulkQuery = Type.Object(
  {
    operation: Type.Optional(Operation),
    callback_url: Type.Optional(Type.String({ minLength: 1, maxLength: 4096, description: 'POSTed (signed like a webhook) when the job finishes' })),
    idempotency_key: Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,255}$', description: 'the same key returns the same job' })),
  },
  { additionalProperties: false },
);

const BulkJsonBody = Type.Object(
  {
    operation: Operation,
    items: Type.Array(BulkItem, { description: 'links as in POST /v1/links; any number, streamed (the body may be up to BULK_MAX_BYTES)' }),
    callback_url: Type.Optional(Type.String({ maxLength: 4096 })),
    idempotency_key: Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,255}$' })),
  },
  { additionalProperties: false },
);

/**
 * The upload body, per content type — for the OpenAPI document. The route parses it itself, as
 * a stream (see jobs-routes.ts), so Fastify does not validate it against these schemas.
 */
export const BulkBody = {
  content: {
    'application/json': { schema: BulkJsonBody },
    'application/x-ndjson': { schema: { type: 'string', description: 'one item (as in `items`) per line; ?operation= required' } },
    'text/csv': {
      schema: {
        type: 'string',
        description: `a header row naming the columns (${CSV_COLUMNS.join(', ')}), then one item per row; ?operation= required`,
      },
    },
  },
};

export const Job = Type.Object(
  {
    id: Id('job'),
    operation: Operation,
    format: Type.Unsafe<(typeof BULK_FORMATS)[number]>({ type: 'string', enum: [...BULK_FORMATS] }),
    status: Type.Unsafe<(typeof JOB_STATUSES)[number]>({ type: 'string', enum: [...JOB_STATUSES] }),
    counts: Type.Object({ total: Type.Integer(), succeeded: Type.Integer(), failed: Type.Integer(), pending: Type.Integer() }),
    upload_bytes: Type.Integer(),
    created_at: Timestamp,
    started_at: Nullable(Timestamp),
    finished_at: Nullable(Timestamp),
    cancel_requested_at: Nullable(Timestamp),
    timings: Type.Object({
      upload_ms: Type.Integer({ description: 'first request byte → job accepted' }),
      queued_ms: Nullable(Type.Integer()),
      processing_ms: Nullable(Type.Integer()),
      total_ms: Nullable(Type.Integer({ description: 'first request byte → finished' })),
    }),
    callback: Nullable(
      Type.Object({
        url: Type.String(),
        state: Type.Unsafe<'waiting' | 'pending' | 'delivered' | 'failed'>({ type: 'string', enum: ['waiting', 'pending', 'delivered', 'failed'] }),
        attempts: Type.Integer(),
        last_status: Nullable(Type.Integer()),
        last_error: Nullable(Type.String()),
      }),
    ),
    errors_url: Type.String(),
    results_url: Type.String(),
  },
  { description: 'a bulk job: status, exact counts, timings, callback state' },
);

export const JobAccepted = Type.Object({
  job_id: Id('job'),
  job: Job,
  callback_secret: Type.Optional(
    Nullable(Type.String({ description: 'signs the callback (X-Signature k=<job id>, Standard Webhooks); shown only in the response that created the job, null in a replay (see `redacted`)' })),
  ),
  redacted: Type.Optional(Type.Array(Type.String(), { description: 'in a replay, a recover or a re-post of the same job: the secret fields left out (null)' })),
});

export const JobErrorsPage = Type.Object({
  data: Type.Array(
    Type.Object({
      index: Type.Integer({ description: '0-based position of the item in the upload (CSV: data row, header excluded)' }),
      external_id: Nullable(Type.String()),
      code: Type.String(),
      field: Nullable(Type.String()),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'machine-readable details where the error has them (policy_violation: rule, field, violations)' })),
    }),
  ),
  next_cursor: Nullable(Type.String()),
});

export const JobListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(JOB_STATUSES.map((st) => Type.Literal(st)))),
    operation: Type.Optional(Operation),
    limit: WithDefault(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const JobList = Type.Object({ data: Type.Array(Job), next_cursor: Nullable(Type.String()) });
