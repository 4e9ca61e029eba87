/**
 * Bulk jobs: POST /v1/links/bulk (JSON, NDJSON or CSV, streamed into staging as it arrives),
 * GET /v1/jobs/{id}, its errors (paged) and results (NDJSON), POST /v1/jobs/{id}/cancel.
 *
 * The upload is staged in a route `preValidation` hook, before the idempotency hook runs, so
 * the hook sees what identifies a streamed body (its sha256) rather than the stream: the same
 * Idempotency-Key replays the same 202, a different body → 422, a concurrent one → 409. The
 * job row itself carries the key too (header or body `idempotency_key`, unique per API key).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyRequest } from 'fastify';
import { generateWebhookSecret } from '../../shared/index.js';
import { recordAudit } from '../audit/record.js';
import type { ControlPlaneConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import { redactSecrets } from '../idempotency/redact.js';
import { complete } from '../idempotency/store.js';
import { newId } from '../ids.js';
import {
  BULK_OPERATIONS,
  cancelJob,
  fieldFromPointer,
  finishIfComplete,
  getCallbackState,
  getCallbackStates,
  getVisibleJob,
  listVisibleJobs,
  insertJob,
  stageUpload,
  toJobResource,
  type BulkFormat,
  type BulkOperation,
  type JobRow,
  type StagedUpload,
} from '../jobs/index.js';
import { sealContext, type SecretBox } from '../secrets/index.js';
import { validWebhookUrl } from '../webhooks/index.js';
import { BulkBody, BulkQuery, Job, JobAccepted, JobErrorsPage, JobList, JobListQuery } from './job-schemas.js';
import { decodeIdCursor, encodeIdCursor } from './cursor.js';
import { actorOf, authOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { errorResponses, IdParams, PageQuery } from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    bulkUpload: { stream: Readable | null; staged: StagedUpload | null; startedAt: Date } | null;
  }
}

/** Media types the upload accepts, and the format each one means. */
const MEDIA: Record<string, BulkFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'text/csv': 'csv',
  'application/csv': 'csv',
};

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const queryCheck = TypeCompiler.Compile(BulkQuery);

function mediaType(req: FastifyRequest): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function checkQuery(query: unknown): { operation?: BulkOperation; callback_url?: string; idempotency_key?: string } {
  if (!queryCheck.Check(query)) {
    const e = queryCheck.Errors(query).First();
    const field = e ? fieldFromPointer(e.path) : 'querystring';
    throw errors.validation_failed({ field, in: 'querystring', reason: 'invalid' }, `querystring.${field} ${e?.message.toLowerCase() ?? 'is invalid'}`);
  }
  return query as { operation?: BulkOperation; callback_url?: string; idempotency_key?: string };
}

/** The operation, callback and key: from the query, or from a JSON body's top-level fields. */
function jobParams(
  query: ReturnType<typeof checkQuery>,
  fields: Record<string, unknown>,
  headerKey: string | undefined,
  allowPrivate: boolean,
): { operation: BulkOperation; callbackUrl: string | null; idempotencyKey: string | null } {
  const pick = (name: 'operation' | 'callback_url' | 'idempotency_key'): string | undefined => {
    const q = query[name];
    const b = fields[name];
    if (b !== undefined && typeof b !== 'string') throw errors.validation_failed({ field: name, reason: 'type' }, `${name} must be a string`);
    if (q !== undefined && b !== undefined && q !== b) {
      throw errors.validation_failed({ field: name, reason: 'conflict' }, `${name} is given in the query and in the body with different values`);
    }
    return q ?? b;
  };
  const operation = pick('operation');
  if (operation === undefined) {
    throw errors.validation_failed({ field: 'operation', reason: 'required' }, `operation is required (${BULK_OPERATIONS.join(', ')}): in the JSON body, or ?operation= for NDJSON and CSV`);
  }
  if (!(BULK_OPERATIONS as readonly string[]).includes(operation)) {
    throw errors.validation_failed({ field: 'operation', reason: 'enum', allowed: BULK_OPERATIONS }, `operation must be one of ${BULK_OPERATIONS.join(', ')}`);
  }
  const callback = pick('callback_url');
  const key = pick('idempotency_key') ?? headerKey;
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw errors.validation_failed({ field: 'idempotency_key', reason: 'pattern' }, 'idempotency_key must be 1–255 visible ASCII characters');
  }
  return {
    operation: operation as BulkOperation,
    callbackUrl: callback === undefined ? null : validWebhookUrl(callback, allowPrivate, 'callback_url'),
    idempotencyKey: key ?? null,
  };
}

async function releaseStaged(req: FastifyRequest): Promise<void> {
  const staged = req.bulkUpload?.staged;
  if (!staged) return;
  req.bulkUpload!.staged = null;
  await staged.client.query('ROLLBACK').catch(() => undefined);
  staged.client.release();
}

export interface JobsRoutesOptions {
  pool: Pool;
  config: ControlPlaneConfig;
  /** Seals callback secrets at rest. */
  secrets: SecretBox;
}

export const jobsRoutes =
  ({ pool, config, secrets }: JobsRoutesOptions): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['jobs'];
    app.decorateRequest('bulkUpload', null);

    // The upload route lives in its own scope: its content-type parsers hand over the raw stream.
    await app.register(async (upload) => {
      upload.removeAllContentTypeParsers();
      upload.addContentTypeParser(Object.keys(MEDIA), (req, payload, done) => {
        if (req.bulkUpload) req.bulkUpload.stream = payload;
        done(null, undefined);
      });

      upload.addHook('onRequest', async (req) => {
        req.bulkUpload = { stream: null, staged: null, startedAt: new Date() };
      });
      upload.addHook('onResponse', async (req) => releaseStaged(req));
      upload.addHook('onRequestAbort', async (req) => releaseStaged(req));

      upload.post('/v1/links/bulk', {
        config: { scope: 'jobs:write' },
        schema: {
          tags,
          operationId: 'createBulkJob', summary: 'Start a bulk job (JSON, NDJSON or CSV body, streamed)',
          description: [
            'Body: `application/json` `{operation, items: [...], callback_url?, idempotency_key?}`,',
            'or `application/x-ndjson` (one item per line) / `text/csv` (header row) with `?operation=` (and `callback_url`, `idempotency_key`) in the query.',
            'Items are link bodies as in POST /v1/links, identified by `external_id`, else by `domain` + `path`.',
            `Bodies of any size up to BULK_MAX_BYTES are streamed into staging; nothing is kept when the body is bad.`,
          ].join(' '),
          querystring: BulkQuery,
          body: BulkBody,
          response: { 202: JobAccepted, ...errorResponses(400, 401, 403, 409, 413, 415, 422, 429) },
        },
        // The body is parsed as a stream and checked item by item, and the query is checked before
        // streaming (checkQuery): the schemas above document, they do not validate here.
        validatorCompiler: () => (data: unknown) => ({ value: data }),
        preValidation: async (req, reply) => {
          const state = req.bulkUpload!;
          const query = checkQuery(req.query);
          const format = MEDIA[mediaType(req)];
          if (!state.stream || !format) {
            throw errors.validation_failed({ field: 'body', reason: 'required' }, 'a body is required: application/json, application/x-ndjson or text/csv');
          }
          const declared = Number(req.headers['content-length'] ?? NaN);
          if (declared > config.BULK_MAX_BYTES) {
            reply.header('connection', 'close');
            throw errors.body_too_large({ limit: config.BULK_MAX_BYTES }, `the body is larger than BULK_MAX_BYTES (${config.BULK_MAX_BYTES} bytes)`);
          }
          if (format !== 'json' && query.operation === undefined) {
            throw errors.validation_failed({ field: 'operation', in: 'querystring', reason: 'required' }, `?operation= is required for ${format} bodies (${BULK_OPERATIONS.join(', ')})`);
          }
          if (query.callback_url !== undefined) validWebhookUrl(query.callback_url, config.WEBHOOK_ALLOW_PRIVATE, 'callback_url');
          try {
            state.staged = await stageUpload(pool, {
              format,
              body: state.stream,
              maxBytes: config.BULK_MAX_BYTES,
              maxItemBytes: config.BULK_MAX_ITEM_BYTES,
              hashPrefix: `${format}\n${req.url}\n`,
            });
          } catch (err) {
            reply.header('connection', 'close'); // the rest of the body is not worth reading
            throw err;
          }
          // What the idempotency hook hashes: the body's identity, not the stream.
          req.body = { format, bytes: state.staged.bytes, items: state.staged.items, sha256: state.staged.sha256.toString('hex') };
        },
      }, async (req, reply) => {
        const state = req.bulkUpload!;
        const staged = state.staged!;
        const auth = authOf(req);
        const header = req.headers['idempotency-key'];
        const p = jobParams(checkQuery(req.query), staged.fields, typeof header === 'string' ? header : undefined, config.WEBHOOK_ALLOW_PRIVATE);
        const tx = staged.client;
        const id = newId('job');
        const callbackSecret = p.callbackUrl ? generateWebhookSecret() : null;
        const result = await insertJob(tx, {
          id,
          seq: staged.jobSeq,
          auth,
          operation: p.operation,
          format: MEDIA[mediaType(req)]!,
          total: staged.items,
          batchSize: config.JOB_BATCH_SIZE,
          bytes: staged.bytes,
          requestHash: staged.sha256,
          idempotencyKey: p.idempotencyKey,
          callbackUrl: p.callbackUrl,
          callbackSecret: callbackSecret && secrets.seal(callbackSecret, sealContext('jobs', id)),
          requestId: req.id,
          uploadStartedAt: state.startedAt,
        });
        let job: JobRow = result.job;
        if (!result.created) {
          if (!job.request_hash.equals(staged.sha256)) throw errors.idempotency_key_reused({ key: p.idempotencyKey, job_id: job.id });
          await releaseStaged(req); // the same job already exists: drop this upload's items
        } else {
          await recordAudit(tx, actorOf(req), 'job.create', { type: 'job', id: job.id }, {
            operation: job.operation, format: job.format, total: job.total, bytes: staged.bytes,
          });
          job = await finishIfComplete(tx, job); // an empty job is done at once
        }
        // The callback secret is shown once, to the request that created the job: a re-post of the
        // same job, a replay and a recover answer it redacted (null, and named in `redacted`).
        const accepted = {
          job_id: job.id,
          job: toJobResource(job),
          ...(job.callback_url ? { callback_secret: result.created ? callbackSecret : null } : {}),
        };
        const stored = JSON.stringify(redactSecrets(accepted, ['callback_secret']));
        const body = result.created ? JSON.stringify(accepted) : stored;
        const headers = { 'content-type': 'application/json; charset=utf-8', location: `/v1/jobs/${job.id}` };
        if (result.created) {
          if (req.idem) await complete(tx, req.idem, { status: 202, headers, body: stored });
          await tx.query('COMMIT');
          state.staged = null;
          tx.release();
        } else if (req.idem) {
          await complete(pool, req.idem, { status: 202, headers, body: stored });
        }
        if (req.idem) req.idem.completed = true;
        return reply.code(202).headers(headers).send(body);
      });
    });

    const errs = errorResponses(400, 401, 403, 404, 429);

    app.get('/v1/jobs', {
      config: { scope: 'links:read' },
      schema: {
        tags, operationId: 'listJobs', summary: 'List bulk jobs (newest first, cursor-paged), by status and operation',
        description: 'The jobs this key may see, as for GET /v1/jobs/{id}: a key limited to some domains sees the jobs of keys limited to those domains or fewer.',
        querystring: JobListQuery, response: { 200: JobList, ...errorResponses(400, 401, 403, 429) },
      },
    }, async (req) => {
      const auth = authOf(req);
      const { status, operation, limit, cursor } = req.query;
      const rows = await listVisibleJobs(pool, auth, { status, operation, limit: limit + 1, after: cursor ? decodeIdCursor(cursor, 'job') : null });
      const more = rows.length > limit;
      if (more) rows.pop();
      const callbacks = await getCallbackStates(pool, rows.filter((j) => j.callback_url).map((j) => j.seq));
      return { data: rows.map((j) => toJobResource(j, callbacks.get(j.seq) ?? null)), next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    });

    app.get('/v1/jobs/:id', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'getJob', summary: 'A bulk job: status, counts, timings', params: IdParams('job'), response: { 200: Job, ...errs } },
    }, async (req) => {
      const job = await getVisibleJob(pool, authOf(req), req.params.id);
      return toJobResource(job, await getCallbackState(pool, job.seq));
    });

    app.get('/v1/jobs/:id/errors', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'listJobErrors', summary: "A job's failed items, by item index (cursor-paged)", params: IdParams('job'), querystring: PageQuery, response: { 200: JobErrorsPage, ...errs } },
    }, async (req) => {
      const job = await getVisibleJob(pool, authOf(req), req.params.id);
      const after = req.query.cursor ? decodeIndexCursor(req.query.cursor) : -1;
      const { rows } = await pool.query<{ idx: number; external_id: string | null; code: string; field: string | null; message: string; details: Record<string, unknown> | null }>(
        `SELECT idx, external_id, code, field, message, details FROM job_errors WHERE job_seq = $1 AND idx > $2 ORDER BY idx LIMIT $3`,
        [job.seq, after, req.query.limit + 1],
      );
      const more = rows.length > req.query.limit;
      if (more) rows.pop();
      return {
        data: rows.map((r) => ({ index: r.idx, external_id: r.external_id, code: r.code, field: r.field, message: r.message, ...(r.details ? { details: r.details } : {}) })),
        next_cursor: more ? encodeIndexCursor(rows[rows.length - 1]!.idx) : null,
      };
    });

    app.get('/v1/jobs/:id/results', {
      config: { scope: 'links:read' },
      schema: {
        tags,
        operationId: 'getJobResults', summary: "A job's results as NDJSON, one line per processed item in item order",
        description: '`{"index","status":"created|updated|unchanged|disabled|deleted","link_id","short_url","external_id"}` or `{"index","status":"failed","external_id","error":{"code","field","message"[,"details"]}}` (details where the error has them: a policy_violation names details.rule). While the job runs, the lines of the batches done so far.',
        params: IdParams('job'),
        response: { 200: { description: 'NDJSON', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }, ...errs },
      },
    }, async (req, reply) => {
      const job = await getVisibleJob(pool, authOf(req), req.params.id);
      async function* lines(): AsyncGenerator<string> {
        let after = -1;
        for (;;) {
          const { rows } = await pool.query<{ batch_no: number; results: string }>(
            `SELECT batch_no, results FROM job_batches WHERE job_seq = $1 AND state = 'done' AND batch_no > $2 ORDER BY batch_no LIMIT 20`,
            [job.seq, after],
          );
          for (const r of rows) if (r.results) yield r.results;
          if (rows.length < 20) return;
          after = rows[rows.length - 1]!.batch_no;
        }
      }
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
    });

    app.post('/v1/jobs/:id/cancel', {
      config: { scope: 'jobs:write' },
      schema: {
        tags,
        operationId: 'cancelJob', summary: 'Cancel a job (batches not started are skipped; those running finish)',
        params: IdParams('job'),
        response: { 200: Job, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => {
        const job = await cancelJob(tx, actor, req.params.id);
        return toJobResource(job, await getCallbackState(tx, job.seq));
      });
    });
  };

const INT4_MAX = 2 ** 31 - 1;

function encodeIndexCursor(idx: number): string {
  return Buffer.from(JSON.stringify({ v: 1, idx })).toString('base64url');
}

function decodeIndexCursor(cursor: string): number {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: number; idx?: unknown };
    // item indexes are Postgres int: a forged one past 2^31 - 1 would fail the query
    if (c.v === 1 && Number.isInteger(c.idx) && (c.idx as number) >= 0 && (c.idx as number) <= INT4_MAX) return c.idx as number;
  } catch {
    // fall through
  }
  throw errors.invalid_cursor({ field: 'cursor' });
}
