/**
 * The link writer for many links at once (bulk jobs). The same writer as the API's
 * (link-writer.ts `writeLinks`: the same policy evaluation — a violation is returned per link, not
 * thrown — the same set-based upsert and the same outbox entries), plus what a job must also leave
 * behind per link, each written set-based, one statement per kind for the whole batch:
 *   - the webhook events the single path emits (`link.created`, `link.updated`, `link.disabled`,
 *     `link.deleted`), with the same payload (the link resource);
 *   - the audit rows (actor: the key that submitted the job; `changes` name the job).
 * The events continue the job's trace (jobs.traceparent), as the job's own event does.
 * All in the caller's transaction: a batch that rolls back leaves no event and no audit row, and a
 * batch that committed is never run again (jobs/process-batch.ts), so a resumed job does not
 * repeat them.
 *
 * Events of a type no enabled endpoint of the workspace subscribes to are stored already
 * dispatched (the fan-out would find no endpoint for them either): a million-link import with no
 * link.* subscriber costs the webhook fan-out nothing.
 */
import { newUuidV7 } from '../../shared/index.js';
import { scrubSecrets } from '../audit/record.js';
import type { Queryable } from '../db/pool.js';
import type { DomainRow } from '../domains/domain-row.js';
import { EVENTS_CHANNEL } from '../events/emit.js';
import { newId } from '../ids.js';
import { toResource } from './link-row.js';
import { VALUE_COLUMN_NAMES, type LinkRow, type LinkValues } from './link-values.js';
import { auditAction, eventTypes, writeLinks, type LinkWrite, type WriteResult } from './link-writer.js';

export interface BulkWriterContext {
  workspaceId: string;
  /** The key (or OAuth client) that submitted the job: `created_by`, the audit actor. */
  keyId: string;
  /** The job the writes belong to (named in every audit row; its request id is the audit's). */
  jobId: string;
  /** Scheme of short URLs in event payloads. */
  scheme: string;
}

const EVENTS_SQL = `WITH t AS (
    SELECT * FROM jsonb_to_recordset($2::jsonb) AS t(n int, id uuid, type text, data jsonb)
  ), subscribed AS (
    SELECT ty.type FROM (SELECT DISTINCT type FROM t) ty
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
                  WHERE e.workspace_id = $1 AND e.enabled AND e.deleted_at IS NULL AND webhook_filter_matches(e.event_types, ty.type))
  ), ins AS (
    INSERT INTO events (id, workspace_id, type, occurred_at, data, dispatched_at, traceparent)
    SELECT t.id, $1, t.type, now(), t.data, CASE WHEN s.type IS NULL THEN now() END, (SELECT traceparent FROM jobs WHERE id = $3)
    FROM t LEFT JOIN subscribed s ON s.type = t.type
    ORDER BY t.n
    RETURNING dispatched_at
  )
  SELECT pg_notify('${EVENTS_CHANNEL}', '') WHERE EXISTS (SELECT 1 FROM ins WHERE dispatched_at IS NULL)`;

const AUDIT_SQL = `WITH who AS (
    SELECT name, 'api_key' AS via FROM api_keys WHERE id = $2
    UNION ALL SELECT name, 'oauth_client' FROM oauth_clients WHERE id = $2
    LIMIT 1
  )
  INSERT INTO audit_log (id, workspace_id, actor_type, actor_key_id, actor_client_id, actor_name, action, resource_type, resource_id, request_id, changes)
  SELECT t.id, $1, coalesce(w.via, 'api_key'), CASE WHEN w.via = 'oauth_client' THEN NULL ELSE $2 END,
    CASE WHEN w.via = 'oauth_client' THEN $2 END, w.name, t.action, 'link', t.resource_id,
    (SELECT created_by_request FROM jobs WHERE id = $3), t.changes
  FROM jsonb_to_recordset($4::jsonb) AS t(id text, action text, resource_id text, changes jsonb)
  LEFT JOIN who w ON true`;

/** The value columns an update changes (compared as JSON: jsonb key order aside, what the API's audit records too). */
function changedColumns(before: LinkValues, after: LinkValues): string[] {
  const out: string[] = [];
  for (const c of VALUE_COLUMN_NAMES) {
    const a = before[c] instanceof Date ? (before[c] as Date).toISOString() : before[c];
    const b = after[c] instanceof Date ? (after[c] as Date).toISOString() : after[c];
    if (JSON.stringify(a ?? null) !== JSON.stringify(b ?? null)) out.push(c);
  }
  return out;
}

function auditChanges(w: LinkWrite, row: LinkRow, jobId: string): Record<string, unknown> {
  if (w.before === null || w.deleted) return { domain: row.domain, path: row.path, job_id: jobId };
  return { changed: changedColumns(w.before, row), job_id: jobId };
}

/**
 * Writes `writes` (policy, rows, outbox, events, audit) in `tx`, set-based. Links that break a
 * policy are not written and come back in `rejected`. Database errors (a unique violation) are thrown as is.
 */
export async function writeLinksInBulk(
  tx: Queryable, ctx: BulkWriterContext, writes: readonly LinkWrite[], domains: ReadonlyMap<string, DomainRow>,
): Promise<WriteResult> {
  // events and audit are written below, one statement each for the whole set
  const result = await writeLinks(tx, { workspaceId: ctx.workspaceId, keyId: ctx.keyId, scheme: ctx.scheme, events: false, onViolation: 'collect' }, writes, domains);
  if (result.rows.size === 0) return result;

  const events: { n: number; id: string; type: string; data: unknown }[] = [];
  const audit: { id: string; action: string; resource_id: string; changes: unknown }[] = [];
  for (const w of writes) {
    const row = result.rows.get(w.id);
    if (!row) continue;
    const data = toResource(row, ctx.scheme);
    for (const type of eventTypes(w, row)) events.push({ n: events.length, id: newUuidV7(), type, data });
    audit.push({ id: newId('aud'), action: auditAction(w), resource_id: w.id, changes: scrubSecrets(auditChanges(w, row, ctx.jobId)) });
  }
  await tx.query({ name: 'link_bulk_events', text: EVENTS_SQL, values: [ctx.workspaceId, JSON.stringify(events), ctx.jobId] });
  await tx.query({ name: 'link_bulk_audit', text: AUDIT_SQL, values: [ctx.workspaceId, ctx.keyId, ctx.jobId, JSON.stringify(audit)] });
  return result;
}
