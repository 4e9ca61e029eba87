/**
 * One bulk item: its shape (the single-link create schema, every field optional, checked per
 * operation), its identity (external_id, else domain + path) and the error it can carry.
 * Pure: no I/O. The semantic link rules (URL safety, paths, routing) are the single-link ones.
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { ApiError } from '../../shared/index.js';
import { LinkCreate } from '../links/link-schema.js';

export const BULK_OPERATIONS = ['create', 'upsert', 'update', 'disable', 'delete'] as const;
export type BulkOperation = (typeof BULK_OPERATIONS)[number];

/** A single-link create body without `on_conflict`; which fields are required depends on the operation. */
export const BulkItem = Type.Partial(Type.Omit(LinkCreate, ['on_conflict']), {
  additionalProperties: false,
  description: 'a link as in POST /v1/links; identified by external_id, else by domain + path',
});
export type BulkItemInput = Static<typeof BulkItem>;

/** What a failed item records (one per item: the first problem found). */
export interface ItemError {
  code: string;
  field: string | null;
  message: string;
  /** Machine-readable details, as the API's error carries them (a policy violation: rule, field, violations). */
  details?: Record<string, unknown>;
}

// RFC 3339 date-time, as the API's JSON schema (ajv-formats) accepts it.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$/;
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v)));

const check = TypeCompiler.Compile(BulkItem);

/** `/routing/rules/0/url` → `routing.rules[0].url`. */
export function fieldFromPointer(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/** The most specific error: inside a nullable union, the error of its non-null branch. */
function deepest(e: ValueError): ValueError {
  if (e.type === ValueErrorType.Union && e.errors.length > 0) {
    for (const it of e.errors) {
      const inner = it.First();
      if (inner && inner.type !== ValueErrorType.Null) return deepest(inner);
    }
  }
  return e;
}

export function itemError(code: string, field: string | null, message: string): ItemError {
  return { code, field, message };
}

export function itemErrorFrom(err: unknown): ItemError | null {
  if (!(err instanceof ApiError)) return null;
  const field = typeof err.details?.field === 'string' ? err.details.field : null;
  // a policy violation says which rule (as the API's 422 does); other errors' details only repeat the field
  if (err.code === 'policy_violation' && err.details) return { code: err.code, field, message: err.message, details: err.details };
  return { code: err.code, field, message: err.message };
}

export type ShapeResult = { ok: true; item: BulkItemInput } | { ok: false; error: ItemError };

/** Structural check of a parsed item against the schema, then the per-operation requirements. */
export function checkItemShape(value: unknown, op: BulkOperation): ShapeResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: itemError('validation_failed', null, 'an item must be a JSON object') };
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const e = first ? deepest(first) : null;
    const field = e ? fieldFromPointer(e.path) : '';
    const reason = e?.message ?? 'is invalid';
    return { ok: false, error: itemError('validation_failed', field || null, `${field || 'item'}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`) };
  }
  const item = value as BulkItemInput;
  const missing = (field: string, why: string): ShapeResult => ({ ok: false, error: itemError('validation_failed', field, `${field} is required ${why}`) });
  const hasExternal = typeof item.external_id === 'string';
  if (!hasExternal) {
    if (item.path === undefined) return missing('path', 'when the item has no external_id (the item needs an identity so a re-run never duplicates it)');
    if (item.domain === undefined) return missing('domain', 'with path');
  }
  if (op === 'create' || op === 'upsert') {
    if (item.domain === undefined) return missing('domain', `for ${op}`);
    if (item.destination_url === undefined) return missing('destination_url', `for ${op}`);
  }
  if (item.path !== undefined && item.domain === undefined) return missing('domain', 'with path');
  return { ok: true, item };
}
