/**
 * The one link writer. Every path that changes a link — the API's create, update and delete, bulk
 * jobs, approvals and rejections — hands it the links' final values; in the caller's transaction
 * it
 *   1. evaluates the link policies (workspace rules with the domain's overrides): a write may not
 *      bring in a violation; under `require_approval` a new or re-pointed link becomes pending;
 *   2. writes the rows: one set-based statement for any number of links (INSERT … SELECT FROM
 *      json_to_recordset … ON CONFLICT, RETURNING the stored rows);
 *   3. writes the outbox entries compiled from the rows it got back (their real versions) — what a
 *      node serves: a pending new link as pending (404), a pending re-pointed link as its last
 *      approved values;
 *   4. writes the webhook events and the audit rows.
 * Domain changes republish through `republishDomainLinks`.
 */
import { compileLink, type ApiError } from '../../shared/index.js';
import { recordAudit, type Actor } from '../audit/record.js';
import type { Queryable } from '../db/pool.js';
import { DOMAIN_COLUMNS, toSettings, type DomainRow } from '../domains/domain-row.js';
import { errors } from '../errors.js';
import { emitEvents, type NewEvent } from '../events/emit.js';
import { delLink, enqueue, putLink, type OutboxEntry } from '../outbox/enqueue.js';
import { evaluatePolicy } from '../policies/evaluate-policy.js';
import type { PolicyRules, Violation } from '../policies/policy-schema.js';
import { effectivePolicies } from '../policies/policy-store.js';
import { toResource } from './link-row.js';
import {
  LINK_COLUMNS, repoints, servedOf, toSource, VALUE_COLUMN_NAMES, VALUE_COLUMNS,
  type LinkRow, type LinkValues, type ServedValues,
} from './link-values.js';

/** A link's final state. */
export interface LinkWrite {
  id: string;
  /** The live row before the write, locked by the caller (null: a new link). */
  before: LinkRow | null;
  values: LinkValues;
  deleted: boolean;
  /** The audit row's `changes` (written when the context has an actor). */
  audit?: Record<string, unknown>;
  /** A review decision on a pending link (`values` are then what the decision leaves). */
  review?: 'approve' | 'reject';
}

export interface WriterContext {
  workspaceId: string;
  /** The key making the change: `created_by` of new links, the requester of a pending one. */
  keyId: string | null;
  /** Scheme of short URLs in event payloads. */
  scheme: string;
  /** Who to record in the audit log; no audit rows without one. */
  actor?: Actor;
  /** Emit link.* webhook events (bulk jobs report through their job instead). */
  events: boolean;
  /** A policy violation: thrown (422 policy_violation, the API) or returned per link (bulk jobs). */
  onViolation: 'throw' | 'collect';
}

/**
 * `upsert`: new links inserted, existing ones (by id) updated; a taken (domain, path) is an error.
 * `insert_if_free`: new links only; one whose (domain, path) is taken is left out of the result
 * (no error, so the caller's transaction stays usable without a savepoint).
 */
export type WriteMode = 'upsert' | 'insert_if_free';

export interface WriteResult {
  /** The stored rows by id. */
  rows: Map<string, LinkRow>;
  /** Links not written because they break the policy (onViolation 'collect'), by id. */
  rejected: Map<string, ApiError>;
}

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

type Served = ServedValues & { id: string; workspace_id: string; version: number };

/** What nodes serve for a stored link: its values, or while a re-pointed link waits, its last approved ones. */
export function servedLink(row: LinkRow): Served {
  if (row.status === 'pending' && row.live_values) {
    return { ...row.live_values, id: row.id, workspace_id: row.workspace_id, version: row.version, status: 'live' };
  }
  return { ...servedOf(row), id: row.id, workspace_id: row.workspace_id, version: row.version };
}

/** The fields a violation's field belongs to (`routing.rules[0].url` → routing). */
const rootOf = (field: string): keyof ServedValues => field.split(/[.[]/)[0] as keyof ServedValues;

/**
 * Violations `next` brings in: all of them for a new link or an approval (checked against what was
 * served), otherwise those the link did not have before or whose field the write changes — a link
 * that broke a policy tightened after it was written can still be disabled, tagged or deleted.
 */
export function newViolations(w: LinkWrite, rules: PolicyRules, template: DomainRow['utm_template']): Violation[] {
  const next = w.values;
  const found = evaluatePolicy(next, rules, template);
  if (found.length === 0) return found;
  const base: ServedValues | null = w.before === null ? null : w.review === 'approve' ? w.before.live_values : servedOf(w.before);
  if (base === null) return found;
  const had = new Set(evaluatePolicy(base, rules, template).map((v) => `${v.rule} ${v.field}`));
  const changed = (field: string): boolean => {
    const roots: (keyof ServedValues)[] = rootOf(field) === 'utm' ? ['utm', 'destination_url', 'domain_id'] : [rootOf(field)];
    return roots.some((r) => JSON.stringify(base[r]) !== JSON.stringify(next[r]));
  };
  return found.filter((v) => !had.has(`${v.rule} ${v.field}`) || changed(v.field));
}

export function policyViolation(violations: Violation[], linkId?: string): ApiError {
  const first = violations[0]!;
  return errors.policy_violation({ rule: first.rule, field: first.field, violations, ...(linkId ? { link_id: linkId } : {}) }, first.message);
}

/** Under require_approval: a new link waits; a re-pointed live one waits while its last approved values keep serving. */
export function withReview(w: LinkWrite, rules: PolicyRules, keyId: string | null): LinkValues {
  const v = w.values;
  if (w.review === 'approve') return { ...v, status: 'live', review_requested_by: null, live_values: null };
  if (w.review === 'reject' || w.deleted) return v;
  const waiting = (live: ServedValues | null): LinkValues => ({ ...v, status: 'pending', review_requested_by: keyId, live_values: live });
  if (rules.require_approval) {
    const b = w.before;
    if (b === null) return waiting(null);
    if (b.status === 'pending' && b.review_requested_by !== null) return waiting(b.live_values);
    if (b.status === 'live' && repoints(servedOf(b), servedOf(v))) return waiting(servedOf(b));
  }
  // not under review (or no longer): a live link carries no review state
  return v.status === 'live' ? { ...v, review_requested_by: null, live_values: null } : v;
}

/** Settings of every domain in `hosts` (those not given are read). */
async function domainSettings(tx: Queryable, given: ReadonlyMap<string, DomainRow>, hosts: Iterable<string>): Promise<Map<string, DomainRow>> {
  const out = new Map(given);
  const missing = [...new Set(hosts)].filter((h) => !out.has(h));
  if (missing.length > 0) {
    const r = await tx.query<DomainRow>(`SELECT ${DOMAIN_COLUMNS} FROM domains WHERE hostname = ANY($1::text[]) AND deleted_at IS NULL`, [missing]);
    for (const d of r.rows) out.set(d.hostname, d);
  }
  return out;
}

const keyOf = (s: { domain: string; path: string }) => `${s.domain}\u0000${s.path}`;

/**
 * What nodes must serve after the writes: every removed key (a link deleted or moved away) before
 * every put, so a path one link leaves and another takes in the same set ends up served.
 */
export function outboxEntries(list: readonly LinkWrite[], rows: ReadonlyMap<string, LinkRow>, domains: ReadonlyMap<string, DomainRow>): OutboxEntry[] {
  const dels = new Map<string, OutboxEntry>();
  const puts: OutboxEntry[] = [];
  for (const w of list) {
    const row = rows.get(w.id);
    if (!row) continue;
    const was = w.before ? servedLink(w.before) : null;
    if (w.deleted) {
      for (const s of was ? [was, row] : [row]) dels.set(keyOf(s), delLink(s.domain, s.path));
      continue;
    }
    const now = servedLink(row);
    if (was && keyOf(was) !== keyOf(now)) dels.set(keyOf(was), delLink(was.domain, was.path));
    const domain = domains.get(now.domain);
    if (!domain) throw new Error(`link writer: no settings for domain ${now.domain}`);
    puts.push(putLink(compileLink(toSource(now), toSettings(domain))));
  }
  return [...dels.values(), ...puts];
}

export function eventTypes(w: LinkWrite, row: LinkRow): NewEvent['type'][] {
  if (w.review === 'approve') return ['link.approved'];
  if (w.review === 'reject') return ['link.rejected'];
  if (w.deleted) return ['link.deleted'];
  if (w.before === null) return row.disabled ? ['link.created', 'link.disabled'] : ['link.created'];
  return row.disabled && !w.before.disabled ? ['link.updated', 'link.disabled'] : ['link.updated'];
}

export function auditAction(w: LinkWrite): string {
  if (w.review) return w.review === 'approve' ? 'link.approve' : 'link.reject';
  return w.deleted ? 'link.delete' : w.before === null ? 'link.create' : 'link.update';
}

/** The links a policy lets through (review state applied), those it refuses, and the settings of every domain they touch. */
export interface CheckedWrites {
  accepted: LinkWrite[];
  rejected: Map<string, ApiError>;
  settings: Map<string, DomainRow>;
}

/**
 * Step 1 of the writer, without writing: the policy evaluation of `writes` (a violation thrown or
 * collected per `ctx.onViolation`), their review state, and the settings of the domains they end on.
 */
export async function checkWrites(
  tx: Queryable, ctx: Pick<WriterContext, 'workspaceId' | 'keyId' | 'onViolation'>, writes: readonly LinkWrite[], domains: ReadonlyMap<string, DomainRow>,
): Promise<CheckedWrites> {
  const rejected = new Map<string, ApiError>();
  const checkedIds = [...new Set(writes.filter((w) => !w.deleted && w.review !== 'reject').map((w) => w.values.domain_id))];
  const policies = checkedIds.length > 0 ? await effectivePolicies(tx, ctx.workspaceId, checkedIds) : new Map<string, PolicyRules>();
  const hosts = writes.flatMap((w) => [w.values.domain, ...(w.before?.live_values ? [w.before.live_values.domain] : [])]);
  const settings = await domainSettings(tx, domains, hosts);

  const accepted: LinkWrite[] = [];
  for (const w of writes) {
    const rules = policies.get(w.values.domain_id);
    if (!rules) {
      accepted.push(w);
      continue;
    }
    const violations = newViolations(w, rules, settings.get(w.values.domain)?.utm_template ?? null);
    if (violations.length > 0) {
      const err = policyViolation(violations);
      if (ctx.onViolation === 'throw') throw err;
      rejected.set(w.id, err);
      continue;
    }
    accepted.push({ ...w, values: withReview(w, rules, ctx.keyId) });
  }
  return { accepted, rejected, settings };
}

/**
 * Writes `writes` (policy, row, outbox, events, audit) in `tx`. `domains` holds the settings of
 * the domains the links end on, by hostname (others are read). In `insert_if_free` mode a link
 * whose path was taken is missing from the rows. Database errors (a unique violation) are thrown as is.
 */
export async function writeLinks(
  tx: Queryable, ctx: WriterContext, writes: readonly LinkWrite[], domains: ReadonlyMap<string, DomainRow>, mode: WriteMode = 'upsert',
): Promise<WriteResult> {
  if (writes.length === 0) return { rows: new Map(), rejected: new Map() };
  const { accepted, rejected, settings } = await checkWrites(tx, ctx, writes, domains);
  const result: WriteResult = { rows: new Map(), rejected };
  if (accepted.length === 0) return result;

  // updates and deletes before inserts (they may free paths the inserts take). One JSON document
  // for the whole set: Postgres parses it in C (json_to_recordset) instead of node-pg escaping
  // one array per column element by element.
  const list = [...accepted].sort((a, b) => Number(a.before === null) - Number(b.before === null));
  const records = list.map((w, n) => ({ ...w.values, n, id: w.id, deleted: w.deleted }));
  const r = await tx.query<LinkRow>({ name: `link_write_${mode}`, text: WRITE_SQL[mode], values: [ctx.workspaceId, ctx.keyId, JSON.stringify(records)] });
  for (const row of r.rows) result.rows.set(row.id, row);

  await enqueue(tx, outboxEntries(list, result.rows, settings));
  if (ctx.events) {
    const events: NewEvent[] = [];
    for (const w of list) {
      const row = result.rows.get(w.id);
      if (!row) continue;
      const data = toResource(row, ctx.scheme);
      for (const type of eventTypes(w, row)) events.push({ workspaceId: row.workspace_id, type, data });
    }
    await emitEvents(tx, events);
  }
  if (ctx.actor) {
    for (const w of list) {
      if (result.rows.has(w.id)) await recordAudit(tx, ctx.actor, auditAction(w), { type: 'link', id: w.id }, w.audit);
    }
  }
  return result;
}

/**
 * A domain's settings changed what its links compile to (UTM template, default status): every
 * live link of it is compiled again (what nodes serve) and put, in the caller's transaction; the
 * rows are unchanged. A link the new UTM template would make break `required_utm` refuses the change.
 */
export async function republishDomainLinks(tx: Queryable, before: DomainRow, after: DomainRow): Promise<OutboxEntry[]> {
  const links = await tx.query<LinkRow>(`SELECT ${LINK_COLUMNS} FROM links WHERE domain_id = $1 AND deleted_at IS NULL`, [after.id]);
  const rules = (await effectivePolicies(tx, after.workspace_id, [after.id])).get(after.id)!;
  const settings = toSettings(after);
  return links.rows.map((l) => {
    const served = servedLink(l);
    if (rules.required_utm.length > 0) {
      const had = evaluatePolicy(served, rules, before.utm_template).some((v) => v.rule === 'required_utm');
      const now = evaluatePolicy(served, rules, after.utm_template).filter((v) => v.rule === 'required_utm');
      if (!had && now.length > 0) throw policyViolation(now.map((v) => ({ ...v, field: 'utm_template' })), l.id);
    }
    return putLink(compileLink(toSource(served), settings));
  });
}
