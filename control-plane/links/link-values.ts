/**
 * A link's stored values and the columns that hold them (spelled once, with their SQL types),
 * without I/O: defaults for a new link, or the current values overlaid with the given fields
 * (undefined keeps, null clears). The API, bulk jobs and domain changes all go through these.
 */
import type { LinkSource, RedirectStatus, RoutingInput, Utm } from '../../shared/index.js';
import type { DomainRow } from '../domains/domain-row.js';
import type { LinkFields, LinkStatusValue } from './link-schema.js';

export interface LinkValues {
  domain_id: string;
  domain: string;
  path: string;
  destination_url: string;
  utm: Utm | null;
  routing: RoutingInput | null;
  redirect_status: RedirectStatus | null;
  forward_query: boolean;
  tags: string[];
  expires_at: Date | string | null;
  disabled: boolean;
  status: LinkStatusValue;
  metadata: Record<string, unknown>;
  external_id: string | null;
  /** Review: the key whose change waits for approval (status pending), else null. */
  review_requested_by: string | null;
  /** Review: what nodes keep serving while a re-pointed live link waits (null otherwise). */
  live_values: ServedValues | null;
}

/** The values a node serves (a link's own, without its review state). */
export type ServedValues = Omit<LinkValues, 'review_requested_by' | 'live_values'>;

/** Every column a write sets, with its SQL type (for json_to_recordset): the one spelling. */
export const VALUE_COLUMNS = {
  domain_id: 'text',
  domain: 'text',
  path: 'text',
  destination_url: 'text',
  utm: 'jsonb',
  routing: 'jsonb',
  redirect_status: 'smallint',
  forward_query: 'boolean',
  tags: 'text[]',
  expires_at: 'timestamptz',
  disabled: 'boolean',
  status: 'text',
  metadata: 'jsonb',
  external_id: 'text',
  review_requested_by: 'text',
  live_values: 'jsonb',
} as const satisfies Record<keyof LinkValues, string>;

export const VALUE_COLUMN_NAMES = Object.keys(VALUE_COLUMNS) as (keyof LinkValues)[];

/** A stored link: its values and what the database keeps about it. */
export interface LinkRow extends LinkValues {
  id: string;
  workspace_id: string;
  expires_at: Date | null;
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/**
 * The stored row a write leaves: `v` at the version after `before`'s (1 for a new link), written at
 * `now` by `keyId` (the creator of a new link). Spelled out, not spread: V8 copies
 * `{ ...values, more }` of this many fields through its slow path (tens of µs per link).
 */
export function rowAfter(v: LinkValues, id: string, workspaceId: string, before: LinkRow | null, keyId: string | null, now: Date, deleted: boolean): LinkRow {
  return {
    domain_id: v.domain_id, domain: v.domain, path: v.path, destination_url: v.destination_url, utm: v.utm, routing: v.routing,
    redirect_status: v.redirect_status, forward_query: v.forward_query, tags: v.tags,
    expires_at: v.expires_at === null ? null : new Date(v.expires_at),
    disabled: v.disabled, status: v.status, metadata: v.metadata, external_id: v.external_id,
    review_requested_by: v.review_requested_by, live_values: v.live_values,
    id,
    workspace_id: workspaceId,
    version: before ? before.version + 1 : 1,
    created_by: before ? before.created_by : keyId,
    created_at: before ? before.created_at : now,
    updated_at: now,
    deleted_at: deleted ? now : null,
  };
}

/** The select list of a whole row. */
export const LINK_COLUMNS = ['id', 'workspace_id', ...VALUE_COLUMN_NAMES, 'version', 'created_by', 'created_at', 'updated_at', 'deleted_at'].join(', ');

type Fields = Partial<LinkFields>;

/** undefined keeps the current value; anything else (null too) replaces it. */
const keep = <T>(v: T | undefined, current: T): T => (v === undefined ? current : v);

/** The domain a link is written on (id and hostname are all the values need). */
export type LinkDomain = Pick<DomainRow, 'id' | 'hostname'>;

/** The stored values of a row. */
export function valuesOf(row: LinkValues): LinkValues {
  const out = {} as Record<keyof LinkValues, unknown>;
  for (const c of VALUE_COLUMN_NAMES) out[c] = row[c];
  return out as unknown as LinkValues;
}

/** Values of a new link (fields already normalized; `path` already validated or generated). */
export function newLinkValues(domain: LinkDomain, path: string, f: Fields & { destination_url: string }): LinkValues {
  return {
    domain_id: domain.id,
    domain: domain.hostname,
    path,
    destination_url: f.destination_url,
    utm: f.utm ?? null,
    routing: f.routing ?? null,
    redirect_status: f.redirect_status ?? null,
    forward_query: f.forward_query ?? false,
    tags: f.tags ?? [],
    expires_at: f.expires_at ?? null,
    disabled: f.disabled ?? false,
    status: f.status ?? 'live',
    metadata: f.metadata ?? {},
    external_id: f.external_id ?? null,
    review_requested_by: null,
    live_values: null,
  };
}

/** `current` with the given fields applied (fields normalized; `path` validated). */
export function updatedLinkValues(current: LinkValues, domain: LinkDomain, path: string, f: Fields): LinkValues {
  return {
    domain_id: domain.id,
    domain: domain.hostname,
    path,
    destination_url: keep(f.destination_url, current.destination_url),
    utm: keep(f.utm, current.utm),
    routing: keep(f.routing, current.routing),
    redirect_status: keep(f.redirect_status, current.redirect_status),
    forward_query: keep(f.forward_query, current.forward_query),
    tags: keep(f.tags, current.tags),
    expires_at: keep<Date | string | null>(f.expires_at, current.expires_at),
    disabled: keep(f.disabled, current.disabled),
    status: keep(f.status, current.status),
    metadata: keep(f.metadata, current.metadata),
    external_id: keep(f.external_id, current.external_id),
    review_requested_by: current.review_requested_by,
    live_values: current.live_values,
  };
}

/** The compiler's input for a link stored with these values. */
export function toSource(link: ServedValues & { id: string; workspace_id: string; version: number }): LinkSource {
  return {
    id: link.id,
    workspaceId: link.workspace_id,
    version: link.version,
    domain: link.domain,
    path: link.path,
    destinationUrl: link.destination_url,
    utm: link.utm,
    routing: link.routing,
    redirectStatus: link.redirect_status,
    forwardQuery: link.forward_query,
    disabled: link.disabled,
    expiresAt: link.expires_at,
    status: link.status,
  };
}

/** Stable JSON (sorted keys), so jsonb's key order does not look like a change. */
function stable(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
    .join(',')}}`;
}

/** True when `a` and `b` send visitors to different places (or from a different short URL). */
export function repoints(a: ServedValues, b: ServedValues): boolean {
  return a.domain_id !== b.domain_id || a.path !== b.path || a.destination_url !== b.destination_url ||
    stable(a.routing) !== stable(b.routing) || stable(a.utm) !== stable(b.utm) || a.forward_query !== b.forward_query;
}

/** A link's served values without its review state. */
export function servedOf(v: LinkValues): ServedValues {
  const { review_requested_by: _r, live_values: _l, ...served } = v;
  return served;
}

const epoch = (d: Date | string | null) => (d === null ? null : typeof d === 'string' ? Date.parse(d) : d.getTime());

/** True when writing `v` would not change what `row` stores (its review state aside). */
export function sameValues(row: LinkValues, v: LinkValues): boolean {
  return (
    row.domain_id === v.domain_id &&
    row.path === v.path &&
    row.destination_url === v.destination_url &&
    row.redirect_status === v.redirect_status &&
    row.forward_query === v.forward_query &&
    row.disabled === v.disabled &&
    row.status === v.status &&
    row.external_id === v.external_id &&
    epoch(row.expires_at) === epoch(v.expires_at) &&
    row.tags.length === v.tags.length &&
    row.tags.every((t, i) => t === v.tags[i]) &&
    stable(row.utm) === stable(v.utm) &&
    stable(row.routing) === stable(v.routing) &&
    stable(row.metadata) === stable(v.metadata)
  );
}
