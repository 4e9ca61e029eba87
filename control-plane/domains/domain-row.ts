import type { DomainSettings, RedirectStatus, Utm } from '../../shared/index.js';

export interface DomainRow {
  id: string;
  workspace_id: string;
  hostname: string;
  not_found_url: string | null;
  expired_url: string | null;
  utm_template: Utm | null;
  default_redirect_status: RedirectStatus | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export const DOMAIN_COLUMNS = `id, workspace_id, hostname, not_found_url, expired_url, utm_template,
  default_redirect_status, version, created_at, updated_at`;

export interface DomainResource {
  id: string;
  hostname: string;
  not_found_url: string | null;
  expired_url: string | null;
  utm_template: Utm | null;
  default_redirect_status: RedirectStatus | null;
  created_at: string;
  updated_at: string;
}

export function toDomainResource(row: DomainRow): DomainResource {
  return {
    id: row.id,
    hostname: row.hostname,
    not_found_url: row.not_found_url,
    expired_url: row.expired_url,
    utm_template: row.utm_template,
    default_redirect_status: row.default_redirect_status,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toSettings(row: DomainRow): DomainSettings {
  return {
    hostname: row.hostname,
    workspaceId: row.workspace_id,
    utmTemplate: row.utm_template,
    defaultRedirectStatus: row.default_redirect_status,
    notFoundUrl: row.not_found_url,
    expiredUrl: row.expired_url,
    version: row.version,
  };
}
