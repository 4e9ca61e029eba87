/**
 * The link writer for many links at once (bulk jobs): the set-based path of the one writer. It
 * takes the writer's own steps (link-writer.ts: `checkWrites` — the same policy evaluation, a
 * violation returned per link, not thrown — `outboxEntries`, `eventTypes`, `auditAction`) and writes
 * a batch in a few round trips, all in the caller's transaction.
 *
 * A batch of new links only (a first import): one statement reads what the events and audit rows
 * take from other tables (the job's trace and request, the actor's name, which event types an
 * endpoint subscribes to) and sends the NOTIFYs; then a `COPY` each of the links, their outbox
 * entries, their events and their audit rows — COPY stores many rows per heap page and WAL record.
 *
 * Any other batch (updates, deletes):
 *   1. `COPY` of the batch into a temporary staging table, dropped at commit (text format: Postgres parses
 *      each column with its input function; no JSON document to take apart);
 *   2. `COPY` of the outbox entries straight into link_outbox (they are computed here, from the
 *      rows as they will be stored);
 *   3. ONE statement: the upsert of the links from the staging table, and, derived set-based from
 *      the same staged rows, the webhook events the single path emits (`link.created`,
 *      `link.updated`, `link.disabled`, `link.deleted`, the link resource as data) and the audit rows
 *      (actor: the key that submitted the job; `changes` name the job); it returns one count.
 * Like the single-link statement (link-write-one.ts), everything a dependent row carries is known
 * before the write: the links are locked by the caller (jobs/process-batch.ts), so a link's version
 * is the locked one + 1, and the timestamps are chosen here. The upsert only updates a row still at
 * the locked version; a count short of the batch throws (the batch rolls back and runs again).
 * The events continue the job's trace (jobs.traceparent), as the job's own event does.
 * A batch that rolls back leaves no event and no audit row, and a batch that committed is never run
 * again, so a resumed job does not repeat them.
 *
 * Events of a type no enabled endpoint of the workspace subscribes to are stored already
 * dispatched (the fan-out would find no endpoint for them either): a million-link import with no
 * link.* subscriber costs the webhook fan-out nothing.
 */
import { finished } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { compileLink, newUuidV7, type DomainSettings } from '../../shared/index.js';
import { REDACTED } from '../audit/record.js';
import { BinaryCopyWriter, textField } from '../ingest/copy-binary.js';
import type { PoolClient } from '../db/pool.js';
import { toSettings, type DomainRow } from '../domains/domain-row.js';
import { EVENTS_CHANNEL, type NewEvent } from '../events/emit.js';
import { newId } from '../ids.js';
import { OUTBOX_CHANNEL, putLink, type OutboxEntry } from '../outbox/enqueue.js';
import { currentTraceparent } from '../tracing/index.js';
import { shortUrl } from './link-row.js';
import { rowAfter, toSource, VALUE_COLUMN_NAMES, VALUE_COLUMNS, type LinkRow, type LinkValues } from './link-values.js';
import { auditAction, checkWrites, eventTypes, outboxEntries, servedLink, type LinkWrite, type WriteResult } from './link-writer.js';

export interface BulkWriterContext {
  workspaceId: string;
  /** The key (or OAuth client) that submitted the job: `created_by`, the audit actor. */
  keyId: string;
  /** The job the writes belong to (named in every audit row; its request id is the audit's). */
  jobId: string;
  /** Scheme of short URLs in event payloads. */
  scheme: string;
}

const STAGE = 'link_bulk_stage';

/**
 * The staged columns: the link's values (VALUE_COLUMNS, their SQL types), what the database keeps
 * about it, and what its event and audit rows need that the values do not hold. Timestamps travel
 * twice: as given (the column) and as the resource spells them (`toISOString`, in the event).
 */
const STAGE_COLUMNS: [string, string][] = [
  ['n', 'int'], ['id', 'text'],
  ...VALUE_COLUMN_NAMES.map((c): [string, string] => [c, VALUE_COLUMNS[c]]),
  ['version', 'int'], ['created_at', 'timestamptz'], ['updated_at', 'timestamptz'], ['deleted_at', 'timestamptz'],
  ['created_iso', 'text'], ['updated_iso', 'text'], ['expires_iso', 'text'], ['short_url', 'text'],
  ['ev1_id', 'uuid'], ['ev1_type', 'text'], ['ev2_id', 'uuid'], ['ev2_type', 'text'],
  ['au_id', 'text'], ['au_action', 'text'], ['au_changed', 'text[]'], ['au_domain', 'text'], ['au_path', 'text'],
];

// Created in the batch's transaction and dropped at its end (≈ 3 ms of catalog work per batch).
// Not ON COMMIT DELETE ROWS on a table kept per session: Postgres 15 then truncates it at EVERY
// commit of that session — measured ≈ 0.27 ms of Postgres CPU added to each later statement of
// any request the pooled connection serves. Not a table kept with PRESERVE ROWS either: temporary
// tables are never vacuumed, so deleted rows would grow it by every batch. The statement deletes
// what it read, so an item-by-item retry (savepoints, one transaction) starts empty.
const CREATE_STAGE_SQL = `CREATE TEMPORARY TABLE IF NOT EXISTS ${STAGE} (${STAGE_COLUMNS.map(([c, t]) => `${c} ${t}`).join(', ')}) ON COMMIT DROP`;
const COPY_STAGE_SQL = `COPY ${STAGE} (${STAGE_COLUMNS.map(([c]) => c).join(', ')}) FROM STDIN`;
// binary: the compiled rules go in as bytes (text COPY would hex-encode them here and decode them there)
const COPY_OUTBOX_SQL = 'COPY link_outbox (kv_key, op, payload, traceparent) FROM STDIN (FORMAT binary)';

const V = VALUE_COLUMN_NAMES;

// --- a batch of new links only: straight COPYs, no staging table ---------------------------------
// A first import is every link new: its rows, events and audit rows go in by COPY, which inserts
// many rows per heap page and WAL record (an INSERT … SELECT writes one record per row) and needs
// no staging table, no sort and no jsonb_build_object; the event's resource and the audit's
// `changes` are JSON text built here (jsonb keeps no key order, so they are stored as the
// set-based statement stores them). What the statement took from other tables comes first, in
// one statement that also sends the NOTIFYs (delivered at commit, like the statement's).
const COPY_LINKS_SQL = `COPY links (id, workspace_id, created_by, created_at, updated_at, version, deleted_at, ${V.join(', ')}) FROM STDIN`;
const COPY_EVENTS_SQL = 'COPY events (id, workspace_id, type, occurred_at, data, dispatched_at, traceparent) FROM STDIN';
const COPY_AUDIT_SQL = 'COPY audit_log (id, workspace_id, actor_type, actor_key_id, actor_client_id, actor_name, action, resource_type, resource_id, request_id, changes) FROM STDIN';

/** $1 workspace, $2 key, $3 job id, $4 the batch's event types → what the events and audit rows take from elsewhere. */
const NEW_ONLY_CONTEXT_SQL = `WITH who AS (
    SELECT name, 'api_key' AS via FROM api_keys WHERE id = $2
    UNION ALL SELECT name, 'oauth_client' FROM oauth_clients WHERE id = $2
    LIMIT 1
  ), job AS (
    SELECT traceparent, created_by_request FROM jobs WHERE id = $3
  ), subscribed AS (
    SELECT ty FROM unnest($4::text[]) AS ty
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
                  WHERE e.workspace_id = $1 AND e.enabled AND e.deleted_at IS NULL AND webhook_filter_matches(e.event_types, ty))
  )
  SELECT now()::text AS now, (SELECT traceparent FROM job) AS traceparent, (SELECT created_by_request FROM job) AS request_id,
    (SELECT name FROM who) AS actor_name, coalesce((SELECT via FROM who), 'api_key') AS via,
    ARRAY(SELECT ty FROM subscribed) AS subscribed, pg_notify('${OUTBOX_CHANNEL}', '') AS outbox_notified,
    CASE WHEN EXISTS (SELECT 1 FROM subscribed) THEN pg_notify('${EVENTS_CHANNEL}', '') END AS events_notified`;

interface NewOnlyContext {
  now: string;
  traceparent: string | null;
  request_id: string | null;
  actor_name: string | null;
  via: 'api_key' | 'oauth_client';
  subscribed: string[];
}

/** The link resource (link-row.ts `toResource`), built from a staged row. */
const RESOURCE_SQL = `jsonb_build_object('id', s.id, 'domain', s.domain, 'path', s.path, 'short_url', s.short_url,
    'destination_url', s.destination_url, 'utm', s.utm, 'routing', s.routing, 'redirect_status', s.redirect_status,
    'forward_query', s.forward_query, 'tags', to_jsonb(s.tags), 'expires_at', s.expires_iso, 'disabled', s.disabled,
    'status', s.status, 'metadata', s.metadata, 'external_id', s.external_id, 'version', s.version,
    'created_at', s.created_iso, 'updated_at', s.updated_iso)`;

/** Existing links are updated only at the version after the locked one. */
const UPSERT = `ON CONFLICT (id) DO UPDATE SET ${[...V, 'deleted_at', 'version', 'updated_at'].map((c) => `${c} = EXCLUDED.${c}`).join(', ')}
      WHERE l.version = EXCLUDED.version - 1`;

/** $1 workspace, $2 key (created_by, audit actor), $3 job id. */
const WRITE_SQL = `WITH ins AS (
    INSERT INTO links AS l (id, workspace_id, created_by, created_at, updated_at, version, deleted_at, ${V.join(', ')})
    SELECT s.id, $1, $2, s.created_at, s.updated_at, s.version, s.deleted_at, ${V.map((c) => `s.${c}`).join(', ')}
    FROM ${STAGE} s ORDER BY s.n
    ${UPSERT}
    RETURNING 1
  ), ev_rows AS (
    SELECT s.n, e.k, e.id, e.type, ${RESOURCE_SQL} AS data, s.updated_at
    FROM ${STAGE} s CROSS JOIN LATERAL (VALUES (1, s.ev1_id, s.ev1_type), (2, s.ev2_id, s.ev2_type)) AS e(k, id, type)
    WHERE e.id IS NOT NULL
  ), subscribed AS (
    SELECT ty.type FROM (SELECT DISTINCT type FROM ev_rows) ty
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
                  WHERE e.workspace_id = $1 AND e.enabled AND e.deleted_at IS NULL AND webhook_filter_matches(e.event_types, ty.type))
  ), ev AS (
    INSERT INTO events (id, workspace_id, type, occurred_at, data, dispatched_at, traceparent)
    SELECT r.id, $1, r.type, r.updated_at, r.data, CASE WHEN sub.type IS NULL THEN now() END, (SELECT traceparent FROM jobs WHERE id = $3)
    FROM ev_rows r LEFT JOIN subscribed sub ON sub.type = r.type
    ORDER BY r.n, r.k
    RETURNING dispatched_at
  ), who AS (
    SELECT name, 'api_key' AS via FROM api_keys WHERE id = $2
    UNION ALL SELECT name, 'oauth_client' FROM oauth_clients WHERE id = $2
    LIMIT 1
  ), au AS (
    INSERT INTO audit_log (id, workspace_id, actor_type, actor_key_id, actor_client_id, actor_name, action, resource_type, resource_id, request_id, changes)
    SELECT s.au_id, $1, coalesce(w.via, 'api_key'), CASE WHEN w.via = 'oauth_client' THEN NULL ELSE $2 END,
      CASE WHEN w.via = 'oauth_client' THEN $2 END, w.name, s.au_action, 'link', s.id,
      (SELECT created_by_request FROM jobs WHERE id = $3),
      CASE WHEN s.au_changed IS NULL THEN jsonb_build_object('domain', s.au_domain, 'path', s.au_path, 'job_id', $3::text)
           ELSE jsonb_build_object('changed', to_jsonb(s.au_changed), 'job_id', $3::text) END
    FROM ${STAGE} s LEFT JOIN who w ON true
    ORDER BY s.n
  ), del AS (
    DELETE FROM ${STAGE}
  )
  SELECT (SELECT count(*) FROM ins)::int AS written, pg_notify('${OUTBOX_CHANNEL}', '') AS outbox_notified,
    CASE WHEN EXISTS (SELECT 1 FROM ev WHERE dispatched_at IS NULL) THEN pg_notify('${EVENTS_CHANNEL}', '') END AS events_notified`;


// --- COPY text format -------------------------------------------------------------------------

const NULL = '\\N';

/** A text value: backslash, tab, LF and CR escaped. */
function esc(s: string): string {
  if (!/[\\\t\n\r]/.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

const json = (v: unknown): string => (v === null || v === undefined ? NULL : esc(JSON.stringify(v)));
const bool = (b: boolean): string => (b ? 't' : 'f');
const iso = (d: Date | string): string => (typeof d === 'string' ? new Date(d) : d).toISOString();
/** A text[] literal: every element quoted, `"` and `\` escaped inside it. */
const textArray = (a: readonly string[] | null): string =>
  a === null ? NULL : esc(`{${a.map((t) => `"${t.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`);

/** One value column, as COPY reads its SQL type. */
function valueField(c: keyof LinkValues, v: unknown): string {
  if (v === null || v === undefined) return NULL;
  switch (VALUE_COLUMNS[c]) {
    case 'jsonb': return json(v);
    case 'boolean': return bool(v as boolean);
    case 'text[]': return textArray(v as string[]);
    case 'timestamptz': return v instanceof Date ? v.toISOString() : esc(String(v));
    case 'smallint': return String(v);
    default: return esc(String(v));
  }
}

// --- audit -----------------------------------------------------------------------------------

/** What the audit's scrubber (audit/record.ts `scrubSecrets`) makes of a string value. */
const SECRET_VALUE = /^(lp_|lpc_)[A-Za-z0-9]{20,}$/;
const scrubbed = (s: string): string => (SECRET_VALUE.test(s) ? REDACTED : s);

/** Stable JSON (sorted keys): jsonb's key order is not a change. */
function stable(v: unknown): string {
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stable(o[k])}`).join(',')}}`;
}

/** The value columns an update changes (compared as stored: jsonb key order and timestamp spelling aside). */
function changedColumns(before: LinkValues, after: LinkValues): string[] {
  const out: string[] = [];
  for (const c of VALUE_COLUMN_NAMES) {
    const a = before[c];
    const b = after[c];
    if (VALUE_COLUMNS[c] === 'timestamptz') {
      if ((a === null ? null : iso(a as Date | string)) !== (b === null ? null : iso(b as Date | string))) out.push(c);
    } else if (stable(a) !== stable(b)) out.push(c);
  }
  return out;
}

// --- writing ---------------------------------------------------------------------------------

/** One COPY … FROM STDIN of `data` (whole rows). */
async function copyIn(tx: PoolClient, sql: string, data: string | Buffer[]): Promise<void> {
  const stream = tx.query(copyFrom(sql));
  if (typeof data === 'string') stream.end(Buffer.from(data));
  else {
    for (const b of data) stream.write(b);
    stream.end();
  }
  await finished(stream);
}

/**
 * The outbox entries of new links (no key to delete): what `outboxEntries` (link-writer.ts) makes of
 * them, without its two copies of each row (`servedLink`: a spread of the row's values, then of
 * that) — a new link's row is what it serves, unless it waits for review with values still served
 * (never for a new link; handed to `servedLink` anyway).
 */
function newLinkPuts(list: readonly LinkWrite[], rows: ReadonlyMap<string, LinkRow>, domains: ReadonlyMap<string, DomainRow>): OutboxEntry[] {
  const settings = new Map<string, DomainSettings>();
  const puts: OutboxEntry[] = [];
  for (const w of list) {
    const row = rows.get(w.id);
    if (!row) continue;
    const served = row.status === 'pending' && row.live_values ? servedLink(row) : row;
    let s = settings.get(served.domain);
    if (s === undefined) {
      const domain = domains.get(served.domain);
      if (!domain) throw new Error(`link writer: no settings for domain ${served.domain}`);
      s = toSettings(domain);
      settings.set(served.domain, s);
    }
    puts.push(putLink(compileLink(toSource(served), s)));
  }
  return puts;
}

/** The binary COPY of outbox entries. */
function outboxCopy(entries: readonly OutboxEntry[]): Buffer[] {
  const trace = textField(currentTraceparent());
  const outbox = new BinaryCopyWriter();
  for (const e of entries) {
    outbox.row(4, 64 + e.key.length * 3 + (e.payload?.byteLength ?? 0)).field(textField(e.key)).field(textField(e.op));
    if (e.payload === null) outbox.field(textField(null));
    else outbox.raw(Buffer.from(e.payload.buffer, e.payload.byteOffset, e.payload.byteLength), 0, e.payload.byteLength);
    outbox.field(trace);
  }
  return outbox.finish();
}

/** `COPY` of `data`; returns the rows Postgres took. */
async function copyRows(tx: PoolClient, sql: string, data: string): Promise<number> {
  const stream = tx.query(copyFrom(sql));
  stream.end(Buffer.from(data));
  await finished(stream);
  return stream.rowCount;
}

const str = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));

/**
 * The link resource (link-row.ts `toResource`) of a new link's row as JSON text, written out
 * rather than built as an object and stringified (a third of the cost); `createdIso` is the row's
 * created_at and updated_at.
 */
export function resourceJson(row: LinkRow, scheme: string, createdIso: string): string {
  return `{"id":${str(row.id)},"domain":${str(row.domain)},"path":${str(row.path)},"short_url":${str(shortUrl(scheme, row.domain, row.path))}`
    + `,"destination_url":${str(row.destination_url)},"utm":${JSON.stringify(row.utm ?? null)},"routing":${JSON.stringify(row.routing ?? null)}`
    + `,"redirect_status":${row.redirect_status == null ? 'null' : Number(row.redirect_status)},"forward_query":${row.forward_query === true}`
    + `,"tags":${JSON.stringify(row.tags ?? [])},"expires_at":${row.expires_at == null ? 'null' : `"${row.expires_at.toISOString()}"`}`
    + `,"disabled":${row.disabled === true},"status":${str(row.status)},"metadata":${JSON.stringify(row.metadata ?? {})},"external_id":${str(row.external_id ?? null)}`
    + `,"version":${Number(row.version)},"created_at":"${createdIso}","updated_at":"${createdIso}"}`;
}

/**
 * A batch of new links only (none deleted): rows, outbox, events and audit rows by COPY, in the
 * batch's order (see NEW_ONLY_CONTEXT_SQL). What is stored is what the set-based statement stores.
 */
async function writeNewLinks(
  tx: PoolClient, ctx: BulkWriterContext, list: readonly LinkWrite[], result: WriteResult, settings: ReadonlyMap<string, DomainRow>,
): Promise<void> {
  const now = new Date();
  const nowIso = now.toISOString();
  const types = new Set<string>();
  const eventsOf: NewEvent['type'][][] = [];
  for (const w of list) {
    const row = rowAfter(w.values, w.id, ctx.workspaceId, null, ctx.keyId, now, false); // as COPY stores it
    result.rows.set(w.id, row);
    const t = eventTypes(w, row);
    eventsOf.push(t);
    for (const x of t) types.add(x);
  }
  const c = (await tx.query<NewOnlyContext>({ name: 'link_bulk_new_context', text: NEW_ONLY_CONTEXT_SQL, values: [ctx.workspaceId, ctx.keyId, ctx.jobId, [...types]] })).rows[0]!;
  const subscribed = new Set(c.subscribed);
  const ws = esc(ctx.workspaceId);
  const key = esc(ctx.keyId);
  const head = `\t${ws}\t${key}\t${nowIso}\t${nowIso}\t1\t${NULL}`;
  const trace = c.traceparent === null ? NULL : esc(c.traceparent);
  const actor = `${ws}\t${c.via}\t${c.via === 'oauth_client' ? `${NULL}\t${key}` : `${key}\t${NULL}`}\t${c.actor_name === null ? NULL : esc(c.actor_name)}`;
  const request = c.request_id === null ? NULL : esc(c.request_id);
  const jobId = JSON.stringify(ctx.jobId);
  const links: string[] = [];
  const events: string[] = [];
  const audit: string[] = [];
  for (let n = 0; n < list.length; n++) {
    const w = list[n]!;
    const row = result.rows.get(w.id)!;
    let line = esc(w.id) + head;
    for (const col of V) line += `\t${valueField(col, w.values[col])}`;
    links.push(`${line}\n`);
    const data = esc(resourceJson(row, ctx.scheme, nowIso));
    for (const type of eventsOf[n]!) {
      events.push(`${newUuidV7()}\t${ws}\t${type}\t${nowIso}\t${data}\t${subscribed.has(type) ? NULL : c.now}\t${trace}\n`);
    }
    const changes = `{"domain":${JSON.stringify(scrubbed(row.domain))},"path":${JSON.stringify(scrubbed(row.path))},"job_id":${jobId}}`;
    audit.push(`${newId('aud')}\t${actor}\t${auditAction(w)}\tlink\t${esc(w.id)}\t${request}\t${esc(changes)}\n`);
  }
  const written = await copyRows(tx, COPY_LINKS_SQL, links.join(''));
  if (written !== list.length) throw new Error(`bulk link write: ${written} of ${list.length} links written`);
  await copyIn(tx, COPY_OUTBOX_SQL, outboxCopy(newLinkPuts(list, result.rows, settings)));
  await copyRows(tx, COPY_EVENTS_SQL, events.join(''));
  await copyRows(tx, COPY_AUDIT_SQL, audit.join(''));
}

/**
 * Writes `writes` (policy, rows, outbox, events, audit) in `tx`, set-based (see the file comment).
 * Links that break a policy are not written and come back in `rejected`. Database errors (a unique
 * violation, a value refused) are thrown as is.
 */
export async function writeLinksInBulk(
  tx: PoolClient, ctx: BulkWriterContext, writes: readonly LinkWrite[], domains: ReadonlyMap<string, DomainRow>,
): Promise<WriteResult> {
  if (writes.length === 0) return { rows: new Map(), rejected: new Map() };
  const { accepted, rejected, settings } = await checkWrites(tx, { workspaceId: ctx.workspaceId, keyId: ctx.keyId, onViolation: 'collect' }, writes, domains);
  const result: WriteResult = { rows: new Map(), rejected };
  if (accepted.length === 0) return result;

  if (accepted.every((w) => w.before === null && !w.deleted)) {
    await writeNewLinks(tx, ctx, accepted, result, settings);
    return result;
  }

  // updates and deletes before inserts (they may free paths the inserts take)
  const list = [...accepted].sort((a, b) => Number(a.before === null) - Number(b.before === null));
  const now = new Date();
  const nowIso = now.toISOString();
  const stage: string[] = [];
  for (let n = 0; n < list.length; n++) {
    const w = list[n]!;
    const row = rowAfter(w.values, w.id, ctx.workspaceId, w.before, ctx.keyId, now, w.deleted); // as the upsert stores it
    result.rows.set(w.id, row);
    const types = eventTypes(w, row);
    const action = auditAction(w);
    const changed = w.before === null || w.deleted ? null : changedColumns(w.before, w.values);
    let line = `${n}\t${esc(w.id)}`;
    for (const c of V) line += `\t${valueField(c, w.values[c])}`;
    line += `\t${row.version}\t${iso(row.created_at)}\t${nowIso}\t${w.deleted ? nowIso : NULL}`;
    line += `\t${iso(row.created_at)}\t${nowIso}\t${row.expires_at === null ? NULL : row.expires_at.toISOString()}\t${esc(shortUrl(ctx.scheme, row.domain, row.path))}`;
    line += `\t${types[0] ? `${newUuidV7()}\t${types[0]}` : `${NULL}\t${NULL}`}\t${types[1] ? `${newUuidV7()}\t${types[1]}` : `${NULL}\t${NULL}`}`;
    line += `\t${newId('aud')}\t${action}\t${textArray(changed)}\t${esc(scrubbed(row.domain))}\t${esc(scrubbed(row.path))}\n`;
    stage.push(line);
  }

  const outbox = outboxCopy(outboxEntries(list, result.rows, settings));

  await tx.query(CREATE_STAGE_SQL);
  await copyIn(tx, COPY_STAGE_SQL, stage.join(''));
  await copyIn(tx, COPY_OUTBOX_SQL, outbox);
  const r = await tx.query<{ written: number }>({ name: 'link_bulk_write_mixed', text: WRITE_SQL, values: [ctx.workspaceId, ctx.keyId, ctx.jobId] });
  const written = r.rows[0]?.written ?? 0;
  if (written !== list.length) {
    throw new Error(`bulk link write: ${written} of ${list.length} links written (a link changed after it was locked)`);
  }
  return result;
}
