/**
 * The one link writer. Every path that changes a link — the API's create, update and delete, bulk
 * jobs, approvals — hands it the links' final values; in the caller's transaction it writes the
 * rows (one set-based statement for any number of links), the outbox entries compiled from the
 * rows it got back (their real versions), the webhook events and the audit rows. Domain changes
 * republish through `republishDomainLinks`.
 */
import { compileLink } from '../../shared/index.js';
import { recordAudit, type Actor } from '../audit/record.js';
import type { Queryable } from '../db/pool.js';
import { toSettings, type DomainRow } from '../domains/domain-row.js';
import { emitEvents, type NewEvent } from '../events/emit.js';
import { delLink, enqueue, putLink, type OutboxEntry } from '../outbox/enqueue.js';
import { toResource } from './link-row.js';
import { LINK_COLUMNS, toSource, VALUE_COLUMN_NAMES, VALUE_COLUMNS, type LinkRow, type LinkValues } from './link-values.js';

/** A link's final state. */
export interface LinkWrite {
  id: string;
  /** The live row before the write, locked by the caller (null: a new link). */
  before: LinkRow | null;
  values: LinkValues;
  deleted: boolean;
  /** The audit row's `changes` (written when the context has an actor). */
  audit?: Record<string, unknown>;
}

export interface WriterContext {
  workspaceId: string;
  /** The key making the change: `created_by` of new links. */
  keyId: string | null;
  /** Scheme of short URLs in event payloads. */
  scheme: string;
  /** Who to record in the audit log; no audit rows without one. */
  actor?: Actor;
  /** Emit link.* webhook events (bulk jobs report through their job instead). */
  events: boolean;
}

/**
 * `upsert`: new links inserted, existing ones (by id) updated; a taken (domain, path) is an error.
 * `insert_if_free`: new links only; one whose (domain, path) is taken is left out of the result
 * (no error, so the caller's transaction stays usable without a savepoint).
 */
export type WriteMode = 'upsert' | 'insert_if_free';

const RECORD_TYPES = ['n int', 'id text', 'deleted boolean', ...VALUE_COLUMN_NAMES.map((c) => `${c} ${VALUE_COLUMNS[c]}`)].join(', ');
const INSERT_COLUMNS = ['id', 'workspace_id', 'created_by', 'deleted_at', ...VALUE_COLUMN_NAMES].join(', ');
const SELECT_VALUES = ['t.id', '$1', '$2', 'CASE WHEN t.deleted THEN now() END', ...VALUE_COLUMN_NAMES.map((c) => `t.${c}`)].join(', ');
const UPDATE_SET = [...VALUE_COLUMN_NAMES, 'deleted_at'].map((c) => `${c} = EXCLUDED.${c}`).join(', ');

const CONFLICT: Record<WriteMode, string> = {
  upsert: `ON CONFLICT (id) DO UPDATE SET ${UPDATE_SET}, version = l.version + 1, updated_at = now()`,
  insert_if_free: 'ON CONFLICT (domain, path) WHERE deleted_at IS NULL DO NOTHING',
};

const writeSql = (mode: WriteMode) => `INSERT INTO links AS l (${INSERT_COLUMNS})
  SELECT ${SELECT_VALUES}
  FROM json_to_recordset($3::json) AS t(${RECORD_TYPES})
  ORDER BY t.n
  ${CONFLICT[mode]}
  RETURNING ${LINK_COLUMNS}`;

const WRITE_SQL: Record<WriteMode, string> = { upsert: writeSql('upsert'), insert_if_free: writeSql('insert_if_free') };

/** The rows, in the order given: updates and deletes before inserts (they may free paths the inserts take). */
function ordered(writes: readonly LinkWrite[]): LinkWrite[] {
  return [...writes].sort((a, b) => Number(a.before === null) - Number(b.before === null));
}

function linkEvents(w: LinkWrite, row: LinkRow, scheme: string): NewEvent[] {
  const types: NewEvent['type'][] = [];
  if (w.deleted) types.push('link.deleted');
  else if (w.before === null) types.push('link.created', ...(row.disabled ? (['link.disabled'] as const) : []));
  else types.push('link.updated', ...(row.disabled && !w.before.disabled ? (['link.disabled'] as const) : []));
  const data = toResource(row, scheme);
  return types.map((type) => ({ workspaceId: row.workspace_id, type, data }));
}

const auditAction = (w: LinkWrite) => (w.deleted ? 'link.delete' : w.before === null ? 'link.create' : 'link.update');

/**
 * What nodes must serve after the writes: every removed key (a link deleted or moved away) before
 * every put, so a path one link leaves and another takes in the same set ends up served.
 */
function outboxEntries(list: readonly LinkWrite[], rows: ReadonlyMap<string, LinkRow>, domains: ReadonlyMap<string, DomainRow>): OutboxEntry[] {
  const dels: OutboxEntry[] = [];
  const puts: OutboxEntry[] = [];
  for (const w of list) {
    const row = rows.get(w.id);
    if (!row) continue;
    const b = w.before;
    if (w.deleted) {
      dels.push(delLink(row.domain, row.path));
      continue;
    }
    if (b && (b.domain !== row.domain || b.path !== row.path)) dels.push(delLink(b.domain, b.path));
    const domain = domains.get(row.domain);
    if (!domain) throw new Error(`link writer: no settings for domain ${row.domain}`);
    puts.push(putLink(compileLink(toSource(row), toSettings(domain))));
  }
  return [...dels, ...puts];
}

/**
 * Writes `writes` (row, outbox, events, audit) in `tx`; `domains` holds the settings of every
 * domain the links end on, by hostname. Returns the stored rows by id (in `insert_if_free` mode
 * a link whose path was taken is missing). Database errors (a unique violation) are thrown as is.
 */
export async function writeLinks(
  tx: Queryable, ctx: WriterContext, writes: readonly LinkWrite[], domains: ReadonlyMap<string, DomainRow>, mode: WriteMode = 'upsert',
): Promise<Map<string, LinkRow>> {
  const rows = new Map<string, LinkRow>();
  if (writes.length === 0) return rows;
  const list = ordered(writes);
  // One JSON document for the whole set: Postgres parses it in C (json_to_recordset) instead of
  // node-pg escaping one array per column element by element.
  const records = list.map((w, n) => ({ ...w.values, n, id: w.id, deleted: w.deleted }));
  const r = await tx.query<LinkRow>({ name: `link_write_${mode}`, text: WRITE_SQL[mode], values: [ctx.workspaceId, ctx.keyId, JSON.stringify(records)] });
  for (const row of r.rows) rows.set(row.id, row);

  await enqueue(tx, outboxEntries(list, rows, domains));
  const events: NewEvent[] = [];
  if (ctx.events) {
    for (const w of list) {
      const row = rows.get(w.id);
      if (row) events.push(...linkEvents(w, row, ctx.scheme));
    }
  }
  await emitEvents(tx, events);
  if (ctx.actor) {
    for (const w of list) {
      if (rows.has(w.id)) await recordAudit(tx, ctx.actor, auditAction(w), { type: 'link', id: w.id }, w.audit);
    }
  }
  return rows;
}

/**
 * A domain's settings changed what its links compile to (UTM template, default status): every
 * live link of it is compiled again and put, in the caller's transaction. Rows are unchanged.
 */
export async function republishDomainLinks(tx: Queryable, domain: DomainRow): Promise<OutboxEntry[]> {
  const links = await tx.query<LinkRow>(`SELECT ${LINK_COLUMNS} FROM links WHERE domain_id = $1 AND deleted_at IS NULL`, [domain.id]);
  const settings = toSettings(domain);
  return links.rows.map((l) => putLink(compileLink(toSource(l), settings)));
}
