/**
 * The single-link path of the writer (issue 17): an API create or update is ONE prepared
 * statement — no BEGIN/COMMIT, a single statement commits atomically — that
 *   - checks the domain row still has the version its settings were compiled with (FOR KEY SHARE:
 *     a domain update or delete, which lock it FOR UPDATE, waits for the write or is seen by it),
 *   - checks the stored policy rows still equal the ones the policy was evaluated with,
 *   - inserts (or, for an update, updates at the version read: optimistic) the link row,
 *   - and, only when the row was written, inserts its outbox entries, webhook events and audit row,
 *     completes the request's idempotency record with the response (or, when the route deferred the
 *     reservation, inserts the record completed: no reservation round trip before the write), and
 *     notifies the relay and the fan-out. An event of a type no enabled endpoint of the workspace
 *     subscribes to is stored already dispatched and wakes no fan-out (as the bulk writer does): most
 *     workspaces have no endpoint, and the fan-out's transaction per wake-up (read the events, mark
 *     them dispatched: a new version of each event row) would otherwise follow every write.
 * With a deferred reservation the statement first looks for a record of the key: if there is one
 * (a retry, a replay, a mismatch, one in flight) it writes nothing and says so (`idem_exists`), and
 * the route reserves as every route does and obeys the verdict. Two requests with one key at once:
 * the second's INSERT waits on the first's record and fails with a unique violation, which undoes
 * its whole statement (its link too): the same answer.
 * Everything the dependent rows carry is computed here before the statement, as the row will be:
 * the version (1, or the read version + 1) and the timestamps (`now`, chosen here, like the ids).
 * The policy evaluation, review state, outbox entries, events and audit are link-writer.ts's own
 * functions: the same rules as every other path of the one writer.
 */
import { newUuidV7 } from '../../shared/index.js';
import { auditValues, AUDIT_COLUMNS } from '../audit/record.js';
import type { Queryable } from '../db/pool.js';
import type { DomainRow } from '../domains/domain-row.js';
import { EVENTS_CHANNEL } from '../events/emit.js';
import { IDEMPOTENCY_TTL_HOURS, type Reservation } from '../idempotency/store.js';
import { OUTBOX_CHANNEL } from '../outbox/enqueue.js';
import { currentTraceparent } from '../tracing/index.js';
import { policyUnchangedSql, type PolicyInputs } from '../policies/policy-store.js';
import type { Violation } from '../policies/policy-schema.js';
import { toResource, type LinkResource } from './link-row.js';
import { rowAfter, VALUE_COLUMN_NAMES, VALUE_COLUMNS, type LinkRow } from './link-values.js';
import {
  auditAction, eventTypes, newViolations, outboxEntries, servedLink, withReview, type LinkWrite, type WriterContext,
} from './link-writer.js';

/** How the route answers a written link; the idempotency record, if any, is completed with exactly this. */
export interface LinkResponseSpec {
  status: number;
  idem: Reservation | null;
  headersOf?: (link: LinkResource) => Record<string, string>;
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export type OneResult =
  | { kind: 'written'; row: LinkRow; answer: Answer }
  /** create: the (domain, path) is taken; update: the row changed since it was read (or is gone). */
  | { kind: 'not_written' }
  /** the domain or the policy changed since they were read: nothing written, read them again. */
  | { kind: 'stale' }
  | { kind: 'violation'; violations: Violation[] }
  /** the request's Idempotency-Key already has a record (deferred reservation): nothing written, reserve it. */
  | { kind: 'idem_exists' }
  /** not a case for this path (a pending link served on another domain): use the transactional writer. */
  | { kind: 'fallback' };

const RECORD_TYPES = VALUE_COLUMN_NAMES.map((c) => `${c} ${VALUE_COLUMNS[c]}`).join(', ');
const AUDIT_PARAMS = AUDIT_COLUMNS.map((c, i) => `$${14 + i}::${c === 'changes' ? 'jsonb' : 'text'}`).join(', ');

/**
 * Parameters, shared by both statements: $1 workspace, $2 created_by (create) or the read version
 * (update), $3 the values (JSON), $4 link id, $5 now, $6 domain id, $7 domain version, $8 stored
 * policy, $9–$11 outbox keys/ops/payloads, $12 event ids, $13 event types (their data is the
 * response body, $27), $14–$26 the audit row (id null: none), $27 the response body, $28 status,
 * $29 headers, $30 idempotency api key id, $31 idempotency key (null: none), $32 the active trace
 * context (outbox and event rows keep it, as enqueue and emitEvents do), $33 the reservation is
 * deferred (the record is inserted here, completed), $34–$36 its method, path and request hash,
 * $37 its lifetime in hours.
 */
const tail = `,
  ob AS (
    INSERT INTO link_outbox (kv_key, op, payload, traceparent)
    SELECT k, o, p, $32::text FROM ins, unnest($9::text[], $10::text[], $11::bytea[]) WITH ORDINALITY AS t(k, o, p, n) ORDER BY n
  ),
  subs AS MATERIALIZED (
    SELECT w.event_types FROM webhook_endpoints w WHERE w.workspace_id = $1 AND w.enabled AND w.deleted_at IS NULL
  ),
  ev AS (
    INSERT INTO events (id, workspace_id, type, occurred_at, data, traceparent, dispatched_at)
    SELECT e.id, $1, e.type, $5::timestamptz, $27::text::jsonb, $32::text,
      CASE WHEN NOT EXISTS (SELECT 1 FROM subs WHERE webhook_filter_matches(subs.event_types, e.type)) THEN now() END
    FROM ins, unnest($12::uuid[], $13::text[]) AS e(id, type)
    RETURNING dispatched_at
  ),
  au AS (
    INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')})
    SELECT ${AUDIT_PARAMS} FROM ins WHERE $14::text IS NOT NULL
  ),
  idem AS (
    UPDATE idempotency_keys SET state = 'completed', response_status = $28::int, response_headers = $29::jsonb,
      response_body = $27::text, completed_at = now(), locked_until = NULL
    WHERE NOT $33::bool AND workspace_id = $1 AND api_key_id = $30::text AND idem_key = $31::text AND state = 'in_flight' AND EXISTS (SELECT 1 FROM ins)
  ),
  idem_new AS (
    INSERT INTO idempotency_keys (workspace_id, idem_key, api_key_id, method, path, request_hash, state,
      response_status, response_headers, response_body, completed_at, expires_at)
    SELECT $1, $31::text, $30::text, $34::text, $35::text, $36::bytea, 'completed',
      $28::int, $29::jsonb, $27::text, now(), now() + make_interval(hours => $37::int)
    FROM ins WHERE $33::bool
  )
  SELECT (SELECT count(*) FROM ins)::int AS written, EXISTS (SELECT 1 FROM dom) AS domain_ok, (SELECT ok FROM pol) AS policy_ok,
    EXISTS (SELECT 1 FROM prior) AS idem_exists,
    CASE WHEN EXISTS (SELECT 1 FROM ins) THEN pg_notify('${OUTBOX_CHANNEL}', '') END AS outbox_notified,
    CASE WHEN EXISTS (SELECT 1 FROM ev WHERE dispatched_at IS NULL) THEN pg_notify('${EVENTS_CHANNEL}', '') END AS events_notified`;

const head = `WITH dom AS (SELECT 1 FROM domains WHERE id = $6::text AND version = $7::int AND deleted_at IS NULL FOR KEY SHARE),
  pol AS (SELECT ${policyUnchangedSql('$1::text', '$6::text', '$8')} AS ok),
  prior AS (SELECT 1 FROM idempotency_keys WHERE $33::bool AND workspace_id = $1::text AND api_key_id = $30::text AND idem_key = $31::text),
  ins AS (`;

const GUARD = 'EXISTS (SELECT 1 FROM dom) AND (SELECT ok FROM pol) AND NOT EXISTS (SELECT 1 FROM prior)';

export const CREATE_SQL = `${head}
    INSERT INTO links AS l (id, workspace_id, created_by, created_at, updated_at, ${VALUE_COLUMN_NAMES.join(', ')})
    SELECT $4::text, $1::text, $2::text, $5::timestamptz, $5::timestamptz, ${VALUE_COLUMN_NAMES.map((c) => `t.${c}`).join(', ')}
    FROM json_to_record($3::json) AS t(${RECORD_TYPES})
    WHERE ${GUARD}
    ON CONFLICT (domain, path) WHERE deleted_at IS NULL DO NOTHING
    RETURNING l.id
  )${tail}`;

// by the primary key alone: the row was read (its workspace checked) at this version, and every
// change bumps the version; a workspace_id condition lets the planner pick the (workspace_id, …)
// indexes on a table without fresh statistics (see LINK_BY_ID_SQL in link-service.ts)
export const UPDATE_SQL = `${head}
    UPDATE links AS l SET ${VALUE_COLUMN_NAMES.map((c) => `${c} = t.${c}`).join(', ')}, version = l.version + 1, updated_at = $5::timestamptz
    FROM json_to_record($3::json) AS t(${RECORD_TYPES})
    WHERE l.id = $4::text AND l.version = $2::int AND l.deleted_at IS NULL AND ${GUARD}
    RETURNING l.id
  )${tail}`;

/**
 * Writes one new link (`w.before` null) or one update of `w.before` (the row as read, not locked) in
 * one statement; see the file comment. `domain` is the domain the link ends on, `policy` the
 * policy inputs for it (both possibly cached: the statement checks them).
 */
export async function writeOneLink(
  db: Queryable, ctx: WriterContext & { actor: NonNullable<WriterContext['actor']> }, w: LinkWrite, domain: DomainRow, policy: PolicyInputs, response: LinkResponseSpec,
): Promise<OneResult> {
  const violations = newViolations(w, policy.rules, domain.utm_template);
  if (violations.length > 0) return { kind: 'violation', violations };
  const write: LinkWrite = { ...w, values: withReview(w, policy.rules, ctx.keyId) };
  const v = write.values;
  const now = new Date();
  const before = w.before;
  const row = rowAfter(v, w.id, ctx.workspaceId, before, ctx.keyId, now, false);
  if (servedLink(row).domain !== domain.hostname) return { kind: 'fallback' };

  const entries = outboxEntries([write], new Map([[w.id, row]]), new Map([[domain.hostname, domain]]));
  const types = ctx.events ? eventTypes(write, row) : [];
  const resource = toResource(row, ctx.scheme);
  const body = JSON.stringify(resource);
  const headers = { 'content-type': 'application/json; charset=utf-8', ...(response.headersOf ? response.headersOf(resource) : {}) };
  const audit = auditValues(ctx.actor, auditAction(write), { type: 'link', id: w.id }, w.audit);
  const idem = response.idem;
  const deferred = idem?.deferred;
  const r = await db.query<{ written: number; domain_ok: boolean; policy_ok: boolean; idem_exists: boolean }>({
    name: before ? 'link_update_one' : 'link_create_one',
    text: before ? UPDATE_SQL : CREATE_SQL,
    values: [
      ctx.workspaceId, before ? before.version : ctx.keyId, JSON.stringify(v), w.id, now, domain.id, domain.version, policy.stored,
      entries.map((e) => e.key), entries.map((e) => e.op), entries.map((e) => (e.payload ? Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength) : null)),
      types.map(() => newUuidV7()), types,
      ...audit,
      body, response.status, JSON.stringify(headers), idem?.apiKeyId ?? null, idem?.key ?? null, currentTraceparent(),
      deferred !== undefined, deferred?.method ?? null, deferred?.path ?? null, deferred?.hash ?? null, IDEMPOTENCY_TTL_HOURS,
    ],
  });
  const out = r.rows[0]!;
  if (out.idem_exists) return { kind: 'idem_exists' };
  if (out.written === 1) return { kind: 'written', row, answer: { status: response.status, body, headers } };
  if (!out.domain_ok || !out.policy_ok) return { kind: 'stale' };
  return { kind: 'not_written' };
}
