/**
 * Link lifecycle. Every write compiles the link, writes the outbox entry, the webhook event and
 * the audit row in the caller's transaction: a link is never half-written or half-published.
 */
import { randomBytes } from 'node:crypto';
import { GENERATED_PATH_LENGTH, randomBase62 } from '../../shared/index.js';
import type { Actor } from '../audit/record.js';
import type { Pool, PoolClient, Queryable } from '../db/pool.js';
import { isUniqueViolation, withTx } from '../db/tx.js';
import { canUseDomain, domainForWrite } from '../domains/domain-service.js';
import type { DomainRow } from '../domains/domain-row.js';
import { errors } from '../errors.js';
import { newId } from '../ids.js';
import { complete } from '../idempotency/store.js';
import { instantIso } from '../instant.js';
import type { AuthContext } from '../keys/key-store.js';
import type { CreateLinkInput, LinkFields, UpdateLinkInput } from './link-schema.js';
import { LINK_COLUMNS, newLinkValues, updatedLinkValues, valuesOf, type LinkRow, type LinkValues } from './link-values.js';
import { toResource } from './link-row.js';
import { writeOneLink, type Answer, type LinkResponseSpec, type OneResult } from './link-write-one.js';
import { policyViolation, writeLinks, type LinkWrite, type WriteMode } from './link-writer.js';
import type { LinkWriteCache } from './write-cache.js';
import { validateRouting, validPath, validUrl } from './validate-link.js';

export type { CreateLinkInput, LinkFields, UpdateLinkInput } from './link-schema.js';
export type { Answer, LinkResponseSpec } from './link-write-one.js';

export interface LinkContext {
  actor: Actor;
  /** Scheme of short URLs (config SHORT_URL_SCHEME). */
  scheme: string;
}

export const METADATA_MAX_BYTES = 16_384;
const GENERATE_ATTEMPTS = 6;

function checkMetadata(metadata: Record<string, unknown> | undefined): void {
  if (metadata && Buffer.byteLength(JSON.stringify(metadata)) > METADATA_MAX_BYTES) {
    throw errors.validation_failed({ field: 'metadata', reason: 'too_large' }, `metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON`);
  }
}

function uniqueTags(tags: string[] | undefined): string[] | undefined {
  return tags ? [...new Set(tags.map((t) => t.normalize('NFC')))] : undefined;
}

/** One link through the writer, as the API's key (events and audit on, a violation thrown); unique violations as API errors. */
async function writeOne(tx: PoolClient, ctx: LinkContext, w: LinkWrite, domain: DomainRow | null, mode: WriteMode): Promise<LinkRow | null> {
  const auth = ctx.actor.auth;
  try {
    const r = await writeLinks(tx, { workspaceId: auth.workspaceId, keyId: auth.keyId, scheme: ctx.scheme, actor: ctx.actor, events: true, onViolation: 'throw' },
      [w], new Map(domain ? [[domain.hostname, domain]] : []), mode);
    return r.rows.get(w.id) ?? null;
  } catch (err) {
    if (isUniqueViolation(err, 'links_external_id_live')) throw errors.external_id_conflict({ field: 'external_id' });
    throw err;
  }
}

/**
 * Inserts the link at `path`; null when (domain, path) is taken by a live link. No savepoint: a
 * taken path is not an error (ON CONFLICT DO NOTHING), and any error ends the request's
 * transaction (two round trips less per create).
 */
function insertAt(tx: PoolClient, ctx: LinkContext, id: string, domain: DomainRow, path: string, f: LinkFields): Promise<LinkRow | null> {
  const values = newLinkValues(domain, path, f);
  return writeOne(tx, ctx, { id, before: null, values, deleted: false, audit: { domain: domain.hostname, path } }, domain, 'insert_if_free');
}

async function liveLinkAt(db: Queryable, domain: string, path: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM links WHERE domain = $1 AND path = $2 AND deleted_at IS NULL', [domain, path]);
  return rows[0]?.id ?? null;
}

/** `deal` taken → the first free of `deal-2`, `deal-3`, … */
async function nextSuffix(db: Queryable, domain: string, path: string): Promise<string> {
  const { rows } = await db.query<{ path: string }>(
    `SELECT path FROM links WHERE domain = $1 AND deleted_at IS NULL AND starts_with(path, $2)`,
    [domain, `${path}-`],
  );
  const taken = new Set<number>();
  for (const r of rows) {
    const tail = r.path.slice(path.length + 1);
    if (/^[1-9]\d{0,8}$/.test(tail)) taken.add(Number(tail));
  }
  let n = 2;
  while (taken.has(n)) n++;
  return `${path}-${n}`;
}

/**
 * The checks and canonical forms every link write applies (no I/O): metadata size, URL safety,
 * routing, unique tags, expires_at as a UTC instant inside what Postgres stores.
 */
export function normalizeFields<T extends Partial<LinkFields>>(f: T): T {
  checkMetadata(f.metadata);
  return {
    ...f,
    ...(typeof f.expires_at === 'string' ? { expires_at: instantIso(f.expires_at, 'expires_at', 'body') } : {}),
    ...(f.destination_url !== undefined ? { destination_url: validUrl(f.destination_url, 'destination_url') } : {}),
    ...(f.routing ? { routing: validateRouting(f.routing) } : {}),
    ...(f.tags ? { tags: uniqueTags(f.tags) } : {}),
  };
}

/**
 * Writes a new link at the first free path: the given path (taken → `path_conflict`, or the next
 * `-N` suffix with `on_conflict: "suffix"`), or a generated one, longer every third try. `tryAt`
 * answers null when the path is taken; anything else is the result.
 */
async function atFreePath<T>(
  db: Queryable, hostname: () => string, given: string | undefined, onConflict: string | undefined, tryAt: (path: string) => Promise<T | null>,
): Promise<T> {
  if (given !== undefined) {
    let path = validPath(given);
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await tryAt(path);
      if (r !== null) return r;
      if (onConflict !== 'suffix') {
        const existing = await liveLinkAt(db, hostname(), path);
        if (existing === null) continue; // freed meanwhile: try again
        throw errors.path_conflict({ field: 'path', path, existing_link_id: existing }, `path "${path}" is already used on ${hostname()}`);
      }
      path = await nextSuffix(db, hostname(), validPath(given));
    }
  } else {
    for (let attempt = 0; attempt < GENERATE_ATTEMPTS; attempt++) {
      const r = await tryAt(randomBase62(GENERATED_PATH_LENGTH + Math.floor(attempt / 3), (n) => randomBytes(n)));
      if (r !== null) return r;
    }
  }
  throw errors.path_conflict({ field: 'path' }, 'could not find a free path; retry');
}

/** A create in the caller's transaction through the set-based writer (the fallback of `createLink`). */
export async function createLinkInTx(tx: PoolClient, ctx: LinkContext, input: CreateLinkInput): Promise<LinkRow> {
  const auth = ctx.actor.auth;
  const domain = await domainForWrite(tx, auth, input.domain, true);
  const f = normalizeFields(input);
  const id = newId('ln');
  return atFreePath(tx, () => domain.hostname, f.path, input.on_conflict, (path) => insertAt(tx, ctx, id, domain, path, f));
}

/**
 * One link by id: looked up through the primary key alone, the workspace and liveness checked on
 * the row. With `workspace_id = $2 AND deleted_at IS NULL` in the WHERE clause, a table without
 * fresh statistics (a new database, right after a bulk import) was read through the partial
 * (workspace_id, updated_at) index instead — every link of the workspace scanned per GET or
 * PATCH, ~1.5 ms of Postgres CPU at 2 000 links and growing with the table.
 */
export const LINK_BY_ID_SQL = `SELECT ${LINK_COLUMNS} FROM links WHERE id = $1`;

export async function getLink(db: Queryable, auth: AuthContext, id: string, lock = false): Promise<LinkRow> {
  const { rows } = await db.query<LinkRow>(
    lock ? { name: 'link_by_id_for_update', text: `${LINK_BY_ID_SQL} FOR UPDATE`, values: [id] } : { name: 'link_by_id', text: LINK_BY_ID_SQL, values: [id] },
  );
  const row = rows[0];
  if (!row || row.deleted_at !== null || row.workspace_id !== auth.workspaceId || !canUseDomain(auth, row.domain)) {
    throw errors.link_not_found({ id });
  }
  return row;
}

/**
 * RFC 7396 JSON merge patch: objects merge key by key (recursively), `null` deletes a key,
 * anything else (arrays included) replaces the value.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * `mergeMetadata` (PATCH with `application/merge-patch+json`, issue 15): `metadata` is merged into
 * the stored one (RFC 7396) instead of replacing it; the size limit applies to the result.
 */
export async function updateLinkInTx(
  tx: PoolClient, ctx: LinkContext, id: string, input: UpdateLinkInput, opts: { mergeMetadata?: boolean } = {},
): Promise<LinkRow> {
  const auth = ctx.actor.auth;
  const before = await getLink(tx, auth, id, true);
  if (opts.mergeMetadata && input.metadata !== undefined) {
    input = { ...input, metadata: mergePatch(before.metadata, input.metadata) as Record<string, unknown> };
  }
  const f = normalizeFields(input);
  const domain = await domainForWrite(tx, auth, f.domain ?? before.domain, true);
  const path = f.path !== undefined ? validPath(f.path) : before.path;
  const v: LinkValues = updatedLinkValues(valuesOf(before), domain, path, f);
  // a savepoint only when the link moves: a taken (domain, path) is answered with the live link
  // that holds it, a query that needs the transaction still usable after the unique violation
  const moves = v.domain !== before.domain || v.path !== before.path;
  if (moves) await tx.query('SAVEPOINT update_link');
  try {
    const row = await writeOne(tx, ctx, { id, before, values: v, deleted: false, audit: { changed: Object.keys(input) } }, domain, 'upsert');
    if (moves) await tx.query('RELEASE SAVEPOINT update_link');
    return row!;
  } catch (err) {
    if (!moves) throw err;
    await tx.query('ROLLBACK TO SAVEPOINT update_link');
    if (isUniqueViolation(err, 'links_domain_path_live')) {
      const existing = await liveLinkAt(tx, domain.hostname, path);
      throw errors.path_conflict({ field: 'path', path, existing_link_id: existing }, `path "${path}" is already used on ${domain.hostname}`);
    }
    throw err;
  }
}

export async function deleteLink(tx: PoolClient, ctx: LinkContext, id: string): Promise<LinkRow> {
  const before = await getLink(tx, ctx.actor.auth, id, true);
  // a deleted link is only taken off the nodes: no domain settings needed
  const row = await writeOne(tx, ctx, { id, before, values: valuesOf(before), deleted: true, audit: { domain: before.domain, path: before.path } }, null, 'upsert');
  return row!;
}

/** A pending link, locked, that `auth` may decide on: not its own change. */
async function pendingForReview(tx: PoolClient, auth: AuthContext, id: string): Promise<LinkRow> {
  const row = await getLink(tx, auth, id, true);
  if (row.status !== 'pending' || row.review_requested_by === null) throw errors.link_not_pending({ id, status: row.status });
  if (row.review_requested_by === auth.keyId) throw errors.approver_is_requester({ id, requested_by: row.review_requested_by });
  return row;
}

/** Approves a pending link: it goes live and nodes serve it (the policy is checked again). */
export async function approveLink(tx: PoolClient, ctx: LinkContext, id: string): Promise<LinkRow> {
  const before = await pendingForReview(tx, ctx.actor.auth, id);
  const row = await writeOne(tx, ctx, { id, before, values: valuesOf(before), deleted: false, review: 'approve', audit: { requested_by: before.review_requested_by } }, null, 'upsert');
  return row!;
}

/** Rejects a pending link: a new one is deleted; a re-pointed one gets its last approved values back. */
export async function rejectLink(tx: PoolClient, ctx: LinkContext, id: string): Promise<LinkRow> {
  const before = await pendingForReview(tx, ctx.actor.auth, id);
  const audit = { requested_by: before.review_requested_by };
  const w: LinkWrite = before.live_values === null
    ? { id, before, values: valuesOf(before), deleted: true, review: 'reject', audit }
    : { id, before, values: { ...before.live_values, status: 'live', review_requested_by: null, live_values: null }, deleted: false, review: 'reject', audit };
  try {
    return (await writeOne(tx, ctx, w, null, 'upsert'))!;
  } catch (err) {
    // the approved values' path was taken meanwhile by another link: the link stays pending
    if (isUniqueViolation(err, 'links_domain_path_live')) throw errors.path_conflict({ field: 'path', path: before.live_values?.path });
    throw err;
  }
}

/*
 * The API's create and update: one statement each (link-write-one.ts), with the domain and policy
 * from the in-process cache (checked by the statement). A stale cache entry costs one more try; a
 * case the single statement does not cover, or a write that keeps losing races, goes through the
 * transactional path above (same rules, same answer).
 */

/** Tries of the single statement before the transactional path takes over. */
const ONE_STATEMENT_TRIES = 4;

/** The transactional path, answering as the single statement does (idempotency completed in the same transaction). */
function inTx(pool: Pool, ctx: LinkContext, response: LinkResponseSpec, work: (tx: PoolClient) => Promise<LinkRow>): Promise<Answer> {
  return withTx(pool, async (tx) => {
    const resource = toResource(await work(tx), ctx.scheme);
    const body = JSON.stringify(resource);
    const headers = { 'content-type': 'application/json; charset=utf-8', ...(response.headersOf ? response.headersOf(resource) : {}) };
    if (response.idem) await complete(tx, response.idem, { status: response.status, headers, body });
    return { status: response.status, body, headers };
  });
}

const writerOf = (ctx: LinkContext) => {
  const auth = ctx.actor.auth;
  return { workspaceId: auth.workspaceId, keyId: auth.keyId, scheme: ctx.scheme, actor: ctx.actor, events: true, onViolation: 'throw' as const };
};

/**
 * The single statement with the API's error mapping (unique violations as API errors; the
 * Idempotency-Key's record written meanwhile by a request with the same key: `idem_exists`).
 */
async function writeOneMapped(pool: Pool, ctx: LinkContext, ...args: [LinkWrite, DomainRow, Awaited<ReturnType<LinkWriteCache['policy']>>, LinkResponseSpec]): Promise<OneResult> {
  try {
    return await writeOneLink(pool, writerOf(ctx), ...args);
  } catch (err) {
    if (isUniqueViolation(err, 'links_external_id_live')) throw errors.external_id_conflict({ field: 'external_id' });
    if (isUniqueViolation(err, 'idempotency_keys_pkey')) return { kind: 'idem_exists' };
    throw err;
  }
}

/**
 * What `createLink` and `updateLink` answer: the response (stored for the Idempotency-Key, if
 * any, in the same statement or transaction), or `'reserve'`: the request's Idempotency-Key
 * reservation was deferred (`Reservation.deferred`) and must be made first — a record exists for
 * the key, or the write goes through the transactional path; nothing was written. The route
 * reserves (http/respond.ts `answerDeferred`) and calls again.
 */
export type WriteAnswer = Answer | 'reserve';

export async function createLink(pool: Pool, cache: LinkWriteCache, ctx: LinkContext, input: CreateLinkInput, response: LinkResponseSpec): Promise<WriteAnswer> {
  const auth = ctx.actor.auth;
  let domain = await cache.domain(pool, auth, input.domain);
  const f = normalizeFields(input);
  const id = newId('ln');
  let refreshed = false;
  let tries = 0;
  /** The answer, null when the path is taken, 'tx' when the transactional path must write it, 'reserve' (see WriteAnswer). */
  const writeAt = async (path: string): Promise<Answer | null | 'tx' | 'reserve'> => {
    for (;;) {
      if (++tries > ONE_STATEMENT_TRIES) return 'tx';
      const policy = await cache.policy(pool, auth.workspaceId, domain.id);
      const w: LinkWrite = { id, before: null, values: newLinkValues(domain, path, f), deleted: false, audit: { domain: domain.hostname, path } };
      const r = await writeOneMapped(pool, ctx, w, domain, policy, response);
      if (r.kind === 'written') {
        cache.keepRow(r.row);
        return r.answer;
      }
      if (r.kind === 'idem_exists') return 'reserve';
      if (r.kind === 'not_written') return null;
      if (r.kind === 'fallback') return 'tx';
      // stale, or a violation found with cached inputs: read the domain and policy again, once for a violation
      if (r.kind === 'violation' && refreshed) throw policyViolation(r.violations);
      cache.forget(domain);
      domain = await cache.domain(pool, auth, input.domain);
      refreshed = true;
    }
  };
  const a = await atFreePath(pool, () => domain.hostname, f.path, input.on_conflict, writeAt);
  if (a !== 'tx') return a;
  // the transactional path completes an in-flight record: it must be reserved first
  if (response.idem?.deferred) return 'reserve';
  return inTx(pool, ctx, response, (tx) => createLinkInTx(tx, ctx, input));
}

export async function updateLink(
  pool: Pool, cache: LinkWriteCache, ctx: LinkContext, id: string, input: UpdateLinkInput, opts: { mergeMetadata?: boolean }, response: LinkResponseSpec,
): Promise<WriteAnswer> {
  const auth = ctx.actor.auth;
  let refreshed = false;
  for (let tries = 0; tries < ONE_STATEMENT_TRIES; tries++) {
    // the row as this control plane last wrote it, if the key may see it there (else read: the
    // database decides); the statement writes only at that version
    const kept = tries === 0 ? cache.row(id) : undefined;
    const before = kept && kept.workspace_id === auth.workspaceId && canUseDomain(auth, kept.domain) ? kept : await getLink(pool, auth, id);
    let given = input;
    if (opts.mergeMetadata && input.metadata !== undefined) {
      given = { ...input, metadata: mergePatch(before.metadata, input.metadata) as Record<string, unknown> };
    }
    const f = normalizeFields(given);
    const domain = await cache.domain(pool, auth, f.domain ?? before.domain);
    const path = f.path !== undefined ? validPath(f.path) : before.path;
    const policy = await cache.policy(pool, auth.workspaceId, domain.id);
    const v: LinkValues = updatedLinkValues(valuesOf(before), domain, path, f);
    let r: OneResult;
    try {
      r = await writeOneMapped(pool, ctx, { id, before, values: v, deleted: false, audit: { changed: Object.keys(input) } }, domain, policy, response);
    } catch (err) {
      if (isUniqueViolation(err, 'links_domain_path_live')) {
        const existing = await liveLinkAt(pool, domain.hostname, path);
        throw errors.path_conflict({ field: 'path', path, existing_link_id: existing }, `path "${path}" is already used on ${domain.hostname}`);
      }
      throw err;
    }
    if (r.kind === 'written') {
      cache.keepRow(r.row);
      return r.answer;
    }
    if (r.kind === 'idem_exists') return 'reserve';
    cache.dropRow(id);
    if (r.kind === 'fallback') break;
    if (r.kind === 'violation' && refreshed) throw policyViolation(r.violations);
    // changed since read (not_written: read it again), or stale domain/policy, or a violation with cached inputs
    if (r.kind !== 'not_written') {
      cache.forget(domain);
      refreshed = true;
    }
  }
  // every try that did not answer dropped the kept row already
  if (response.idem?.deferred) return 'reserve';
  return inTx(pool, ctx, response, (tx) => updateLinkInTx(tx, ctx, id, input, opts));
}
