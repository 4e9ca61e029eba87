/**
 * A link's stored column values from its input fields, without I/O: defaults for a new link,
 * or the current row overlaid with the given fields (undefined keeps, null clears). Shared by
 * the single-link service and bulk jobs so both write exactly the same rows.
 */
import type { LinkSource, RedirectStatus, RoutingInput, Utm } from '../../shared/index.js';
import type { DomainRow } from '../domains/domain-row.js';
import type { LinkRow } from './link-row.js';
import type { LinkFields } from './link-service.js';

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
  status: 'live' | 'pending';
  metadata: Record<string, unknown>;
  external_id: string | null;
}

type Fields = Partial<LinkFields>;

/** undefined keeps the current value; anything else (null too) replaces it. */
const keep = <T>(v: T | undefined, current: T): T => (v === undefined ? current : v);

/** The domain a link is written on (id and hostname are all the values need). */
export type LinkDomain = Pick<DomainRow, 'id' | 'hostname'>;

/** The stored values of a row. */
export function valuesOf(row: LinkRow): LinkValues {
  return {
    domain_id: row.domain_id,
    domain: row.domain,
    path: row.path,
    destination_url: row.destination_url,
    utm: row.utm,
    routing: row.routing,
    redirect_status: row.redirect_status,
    forward_query: row.forward_query,
    tags: row.tags,
    expires_at: row.expires_at,
    disabled: row.disabled,
    status: row.status,
    metadata: row.metadata,
    external_id: row.external_id,
  };
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
  };
}

/** The compiler's input for a link stored with `values` (as toSource gives it for a row). */
export function linkSource(id: string, workspaceId: string, version: number, v: LinkValues): LinkSource {
  return {
    id,
    workspaceId,
    version,
    domain: v.domain,
    path: v.path,
    destinationUrl: v.destination_url,
    utm: v.utm,
    routing: v.routing,
    redirectStatus: v.redirect_status,
    forwardQuery: v.forward_query,
    disabled: v.disabled,
    expiresAt: v.expires_at,
    status: v.status,
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

const epoch = (d: Date | string | null) => (d === null ? null : typeof d === 'string' ? Date.parse(d) : d.getTime());

/** True when writing `v` would not change what `row` stores. */
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
