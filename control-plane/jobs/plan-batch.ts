/**
 * Decides what a batch does, without I/O: each item (already checked) against the live links it
 * names (locked by the caller) → the rows to write (one per link, its final state after every
 * item of the batch), and a result or an error per item. Items apply in order, so a later item
 * sees what an earlier one did (a path freed by a delete, a link created by a create, …).
 */
import { GENERATED_PATH_LENGTH } from '../../shared/index.js';
import type { DomainRow } from '../domains/domain-row.js';
import type { LinkRow } from '../links/link-row.js';
import type { LinkFields } from '../links/link-schema.js';
import type { LinkWrite } from '../links/link-writer.js';
import { newLinkValues, sameValues, updatedLinkValues, valuesOf, type LinkDomain, type LinkValues } from '../links/link-values.js';
import { itemError, type BulkOperation, type ItemError } from './bulk-item.js';

/** An item that passed the shape and link-rule checks. */
export interface CheckedItem {
  idx: number;
  /** Normalized fields (URL, routing, tags, metadata), path validated. */
  fields: Partial<LinkFields>;
  /** Canonical hostname, when the item names a domain. */
  domain: string | null;
  path: string | null;
  externalId: string | null;
}

export type ItemOutcome =
  | { idx: number; status: 'created' | 'updated' | 'unchanged' | 'disabled' | 'deleted'; linkId: string; domain: string; path: string; externalId: string | null }
  | { idx: number; status: 'failed'; error: ItemError; externalId: string | null };

export interface BatchPlan {
  writes: LinkWrite[];
  outcomes: ItemOutcome[];
}

export interface PlanInput {
  op: BulkOperation;
  items: CheckedItem[];
  /** Live links named by the batch (by external_id or domain + path), locked. */
  existing: LinkRow[];
  /** Domains the batch names, by canonical hostname; an error when missing or not allowed. */
  domains: ReadonlyMap<string, DomainRow | ItemError>;
  newId: () => string;
  randomPath: (length: number) => string;
}

interface Draft {
  id: string;
  before: LinkRow | null;
  values: LinkValues;
  deleted: boolean;
  touched: boolean;
}

const pathKey = (domain: string, path: string) => `${domain}/${path}`;

export function planBatch(input: PlanInput): BatchPlan {
  const drafts = new Map<string, Draft>();
  const byPath = new Map<string, string>();
  const byExternal = new Map<string, string>();
  for (const row of input.existing) {
    drafts.set(row.id, { id: row.id, before: row, values: valuesOf(row), deleted: false, touched: false });
    byPath.set(pathKey(row.domain, row.path), row.id);
    if (row.external_id !== null) byExternal.set(row.external_id, row.id);
  }
  const outcomes: ItemOutcome[] = [];

  const fail = (item: CheckedItem, error: ItemError) => outcomes.push({ idx: item.idx, status: 'failed', error, externalId: item.externalId });

  const domainOf = (hostname: string): DomainRow | ItemError =>
    input.domains.get(hostname) ?? itemError('domain_not_found', 'domain', `domain "${hostname}" is not registered`);
  const isError = (d: LinkDomain | ItemError): d is ItemError => 'code' in d;

  const conflictAt = (domain: string, path: string, self: string | null): string | null => {
    const owner = byPath.get(pathKey(domain, path));
    return owner !== undefined && owner !== self ? owner : null;
  };
  const externalConflict = (ext: string | null, self: string | null): string | null => {
    if (ext === null) return null;
    const owner = byExternal.get(ext);
    return owner !== undefined && owner !== self ? owner : null;
  };

  const place = (d: Draft, values: LinkValues) => {
    const old = d.values;
    if (d.before !== null || d.touched) {
      if (byPath.get(pathKey(old.domain, old.path)) === d.id) byPath.delete(pathKey(old.domain, old.path));
      if (old.external_id !== null && byExternal.get(old.external_id) === d.id) byExternal.delete(old.external_id);
    }
    d.values = values;
    d.touched = true;
    byPath.set(pathKey(values.domain, values.path), d.id);
    if (values.external_id !== null) byExternal.set(values.external_id, d.id);
  };

  const create = (item: CheckedItem) => {
    const domain = domainOf(item.domain!);
    if (isError(domain)) return fail(item, domain);
    let path = item.path;
    if (path === null) {
      for (let attempt = 0; attempt < 6 && path === null; attempt++) {
        const p = input.randomPath(GENERATED_PATH_LENGTH + Math.floor(attempt / 3));
        if (conflictAt(domain.hostname, p, null) === null) path = p;
      }
      if (path === null) return fail(item, itemError('path_conflict', 'path', 'could not find a free path; retry'));
    } else {
      const owner = conflictAt(domain.hostname, path, null);
      if (owner !== null) return fail(item, itemError('path_conflict', 'path', `path "${path}" is already used on ${domain.hostname} (link ${owner})`));
    }
    const ext = externalConflict(item.externalId, null);
    if (ext !== null) return fail(item, itemError('external_id_conflict', 'external_id', `a live link (${ext}) already has external_id "${item.externalId}"`));
    const d: Draft = { id: input.newId(), before: null, values: newLinkValues(domain, path, item.fields as LinkFields), deleted: false, touched: false };
    drafts.set(d.id, d);
    place(d, d.values);
    outcomes.push({ idx: item.idx, status: 'created', linkId: d.id, domain: domain.hostname, path, externalId: d.values.external_id });
  };

  const change = (item: CheckedItem, d: Draft, fields: Partial<LinkFields>, status: 'updated' | 'disabled') => {
    const cur = d.values;
    const domain: LinkDomain | ItemError = item.domain === null ? { id: cur.domain_id, hostname: cur.domain } : domainOf(item.domain);
    if (isError(domain)) return fail(item, domain);
    const path = item.path ?? cur.path;
    const owner = conflictAt(domain.hostname, path, d.id);
    if (owner !== null) return fail(item, itemError('path_conflict', 'path', `path "${path}" is already used on ${domain.hostname} (link ${owner})`));
    const next = updatedLinkValues(cur, domain, path, fields);
    const ext = externalConflict(next.external_id, d.id);
    if (ext !== null) return fail(item, itemError('external_id_conflict', 'external_id', `a live link (${ext}) already has external_id "${next.external_id}"`));
    const unchanged = d.before !== null && !d.touched && sameValues(cur, next);
    if (!unchanged) place(d, next);
    outcomes.push({ idx: item.idx, status: unchanged ? 'unchanged' : status, linkId: d.id, domain: next.domain, path: next.path, externalId: next.external_id });
  };

  for (const item of input.items) {
    const id = item.externalId !== null ? byExternal.get(item.externalId) : byPath.get(pathKey(item.domain!, item.path!));
    const d = id !== undefined ? drafts.get(id) : undefined;
    const found = d !== undefined && !d.deleted ? d : undefined;
    const notFound = () =>
      fail(item, item.externalId !== null
        ? itemError('link_not_found', 'external_id', `no live link has external_id "${item.externalId}"`)
        : itemError('link_not_found', 'path', `no live link at ${item.domain}/${item.path}`));
    switch (input.op) {
      case 'create':
        if (found) {
          if (item.externalId !== null) fail(item, itemError('external_id_conflict', 'external_id', `a live link (${found.id}) already has external_id "${item.externalId}"`));
          else fail(item, itemError('path_conflict', 'path', `path "${item.path}" is already used on ${item.domain} (link ${found.id})`));
        } else create(item);
        break;
      case 'upsert':
        if (found) change(item, found, item.fields, 'updated');
        else create(item);
        break;
      case 'update':
        if (found) change(item, found, item.fields, 'updated');
        else notFound();
        break;
      case 'disable':
        if (found) change(item, found, { disabled: true }, 'disabled');
        else notFound();
        break;
      case 'delete':
        if (!found) {
          notFound();
          break;
        }
        byPath.delete(pathKey(found.values.domain, found.values.path));
        if (found.values.external_id !== null) byExternal.delete(found.values.external_id);
        found.deleted = true;
        found.touched = true;
        outcomes.push({ idx: item.idx, status: 'deleted', linkId: found.id, domain: found.values.domain, path: found.values.path, externalId: found.values.external_id });
        break;
    }
  }

  const writes: LinkWrite[] = [];
  for (const d of drafts.values()) {
    if (!d.touched) continue;
    if (d.deleted && d.before === null) continue; // created and deleted within the batch: nothing to store
    writes.push({ id: d.id, before: d.before, values: d.values, deleted: d.deleted });
  }
  return { writes, outcomes };
}
