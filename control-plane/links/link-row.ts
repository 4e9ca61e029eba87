/** The links table row, and its two views: the API resource and the compiler's input. */
import type { LinkSource, RedirectStatus, RoutingInput, Utm } from '../../shared/index.js';

export interface LinkRow {
  id: string;
  workspace_id: string;
  domain_id: string;
  domain: string;
  path: string;
  destination_url: string;
  utm: Utm | null;
  routing: RoutingInput | null;
  redirect_status: RedirectStatus | null;
  forward_query: boolean;
  tags: string[];
  expires_at: Date | null;
  disabled: boolean;
  status: 'live' | 'pending';
  metadata: Record<string, unknown>;
  external_id: string | null;
  version: number;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export const LINK_COLUMNS = `id, workspace_id, domain_id, domain, path, destination_url, utm, routing, redirect_status,
  forward_query, tags, expires_at, disabled, status, metadata, external_id, version, created_by, created_at, updated_at, deleted_at`;

export interface LinkResource {
  id: string;
  domain: string;
  path: string;
  short_url: string;
  destination_url: string;
  utm: Utm | null;
  routing: RoutingInput | null;
  redirect_status: RedirectStatus | null;
  forward_query: boolean;
  tags: string[];
  expires_at: string | null;
  disabled: boolean;
  status: 'live' | 'pending';
  metadata: Record<string, unknown>;
  external_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

/** Percent-encodes what a URL path needs, keeping `/` and unreserved characters readable. */
export function shortUrl(scheme: string, domain: string, path: string): string {
  return `${scheme}://${domain}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export function toResource(row: LinkRow, scheme: string): LinkResource {
  return {
    id: row.id,
    domain: row.domain,
    path: row.path,
    short_url: shortUrl(scheme, row.domain, row.path),
    destination_url: row.destination_url,
    utm: row.utm,
    routing: row.routing,
    redirect_status: row.redirect_status,
    forward_query: row.forward_query,
    tags: row.tags,
    expires_at: row.expires_at ? row.expires_at.toISOString() : null,
    disabled: row.disabled,
    status: row.status,
    metadata: row.metadata,
    external_id: row.external_id,
    version: row.version,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toSource(row: LinkRow): LinkSource {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    version: row.version,
    domain: row.domain,
    path: row.path,
    destinationUrl: row.destination_url,
    utm: row.utm,
    routing: row.routing,
    redirectStatus: row.redirect_status,
    forwardQuery: row.forward_query,
    disabled: row.disabled,
    expiresAt: row.expires_at,
    status: row.status,
  };
}
