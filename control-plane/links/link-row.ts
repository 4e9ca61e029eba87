/** A stored link as the API answers it (the resource) and its short URL. */
import type { Static } from '@sinclair/typebox';
import type { Link } from './link-schema.js';
import type { LinkRow } from './link-values.js';

export { LINK_COLUMNS, toSource, type LinkRow } from './link-values.js';

export type LinkResource = Static<typeof Link>;

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
    routing: row.routing as Record<string, unknown> | null,
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
