/**
 * What API keys (api_keys) and OAuth clients (oauth_clients) have in common: a random secret shown
 * once and stored as its SHA-256 (secrets.ts), a role, scopes, a domain limit and a rate limit; a
 * holder lists and revokes only the credentials it could have created (key-power.ts `canManage`,
 * in SQL); and a credential in use becomes the request's AuthContext.
 *
 * Each table keeps what is its own: a key is found by its secret alone and may expire, with
 * last_used_at written in batches (key-store.ts, last-used.ts); a client is found by its client_id,
 * then its secret compared, and has no expiry (oauth/client-store.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { newId, type IdPrefix } from '../ids.js';
import { rolesWithin } from './key-power.js';
import type { Role, Scope } from './roles.js';
import { generateSecret, hashSecret, secretPrefix } from './secrets.js';

export interface AuthContext {
  /** The credential: an API key's id, or an OAuth client's id when the bearer was its JWT. */
  keyId: string;
  workspaceId: string;
  role: Role;
  scopes: ReadonlySet<Scope>;
  /** Hostnames the key is limited to; null = all of the workspace's. */
  domains: readonly string[] | null;
  rateLimit: { burst: number; perSec: number } | null;
  /** The credential's name (audit entries show it). */
  name?: string;
  /** When the credential stops working; null = never. */
  expiresAt?: Date | null;
  /** How the caller authenticated; absent = an API key. */
  via?: 'api_key' | 'oauth_client';
}

/** The columns both tables have. */
export interface CredentialRow {
  id: string;
  workspace_id: string;
  name: string;
  prefix: string;
  role: Role;
  scopes: Scope[];
  domains: string[] | null;
  rate_limit_burst: number | null;
  rate_limit_per_sec: number | null;
  created_by: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

/** A credential table: its name, the prefix of its ids and of its secrets, and the columns a row is read with. */
export interface CredentialTable {
  table: 'api_keys' | 'oauth_clients';
  idPrefix: IdPrefix;
  secretPrefix: string;
  columns: string;
}

export const CREDENTIAL_COLUMNS = 'id, workspace_id, name, prefix, role, scopes, domains, rate_limit_burst, rate_limit_per_sec, created_by, created_at, revoked_at';

export interface NewCredential {
  workspaceId: string;
  name: string;
  role: Role;
  scopes: Scope[];
  domains: string[] | null;
  rateLimit: { burst: number; perSec: number } | null;
  createdBy: string | null;
  /** Use this secret instead of generating one (the bootstrap key only). */
  secret?: string;
}

/**
 * Inserts a credential with a new secret (returned, never stored: only its hash and first
 * characters are); `extra` are the table's own columns.
 */
export async function insertCredential<R extends CredentialRow>(
  db: Queryable,
  t: CredentialTable,
  c: NewCredential,
  extra: Record<string, unknown> = {},
): Promise<{ row: R; secret: string }> {
  const secret = c.secret ?? generateSecret(t.secretPrefix);
  const values: Record<string, unknown> = {
    id: newId(t.idPrefix), workspace_id: c.workspaceId, name: c.name, prefix: secretPrefix(secret, t.secretPrefix), secret_hash: hashSecret(secret),
    role: c.role, scopes: c.scopes, domains: c.domains, rate_limit_burst: c.rateLimit?.burst ?? null, rate_limit_per_sec: c.rateLimit?.perSec ?? null,
    created_by: c.createdBy, ...extra,
  };
  const names = Object.keys(values);
  const { rows } = await db.query<R>(
    `INSERT INTO ${t.table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING ${t.columns}`,
    Object.values(values),
  );
  return { row: rows[0]!, secret };
}

/**
 * The credentials `holder` could have created (key-power.ts `canManage`, in SQL): role and scopes
 * within its own, domains within its own (an unrestricted holder: any). Others are neither listed
 * nor revocable.
 */
export function manageable(holder: AuthContext, first: number): { sql: string; params: unknown[] } {
  return {
    sql: `role = ANY($${first}::text[]) AND scopes <@ $${first + 1}::text[]
      AND ($${first + 2}::text[] IS NULL OR (domains IS NOT NULL AND domains <@ $${first + 2}::text[]))`,
    params: [rolesWithin(holder.role), [...holder.scopes], holder.domains],
  };
}

/** Active credentials of the holder's workspace that the holder could have created, newest first. */
export async function listManageable<R extends CredentialRow>(
  db: Queryable, t: CredentialTable, holder: AuthContext, opts: { limit: number; after: string | null },
): Promise<R[]> {
  const m = manageable(holder, 4);
  const { rows } = await db.query<R>(
    `SELECT ${t.columns} FROM ${t.table}
     WHERE workspace_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR id < $2) AND ${m.sql}
     ORDER BY id DESC LIMIT $3`,
    [holder.workspaceId, opts.after, opts.limit, ...m.params],
  );
  return rows;
}

/** Revokes (at once) a credential the holder could have created; null when there is none such (missing, revoked or above the holder). */
export async function revokeManageable<R extends CredentialRow>(db: Queryable, t: CredentialTable, holder: AuthContext, id: string): Promise<R | null> {
  const m = manageable(holder, 3);
  const { rows } = await db.query<R>(
    `UPDATE ${t.table} SET revoked_at = now()
     WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL AND ${m.sql} RETURNING ${t.columns}`,
    [holder.workspaceId, id, ...m.params],
  );
  return rows[0] ?? null;
}

/** Whether `secret` is the one whose hash is stored (constant time). */
export function secretMatches(storedHash: Buffer, secret: string): boolean {
  return timingSafeEqual(storedHash, hashSecret(secret));
}

/** A row's rate limit (null: the configured default). */
export function rateLimitOf(r: CredentialRow): { burst: number; perSec: number } | null {
  return r.rate_limit_burst !== null || r.rate_limit_per_sec !== null ? { burst: r.rate_limit_burst ?? 0, perSec: r.rate_limit_per_sec ?? 0 } : null;
}

/** A row's rate limit as the API shows it. */
export function rateLimitResource(r: CredentialRow): { burst: number; per_second: number } | null {
  const l = rateLimitOf(r);
  return l && { burst: l.burst, per_second: l.perSec };
}

/** The caller a credential row stands for; `scopes` narrows its scopes (a token's), else all of them. */
export function credentialAuth(
  r: CredentialRow, via: NonNullable<AuthContext['via']>, opts: { scopes?: readonly string[]; expiresAt?: Date | null } = {},
): AuthContext {
  const granted = opts.scopes && new Set(opts.scopes);
  return {
    keyId: r.id,
    workspaceId: r.workspace_id,
    role: r.role,
    scopes: new Set(granted ? r.scopes.filter((s) => granted.has(s)) : r.scopes),
    domains: r.domains,
    name: r.name,
    ...(via === 'oauth_client' ? { via } : {}),
    expiresAt: opts.expiresAt ?? null,
    rateLimit: rateLimitOf(r),
  };
}
