/**
 * OAuth2 clients (client credentials): like API keys they carry a role, scopes, a domain limit and
 * a rate limit, and no key or client creates one with more power than itself (keys/key-power.ts).
 * The client_secret is shown once and stored hashed, as API key secrets are.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { randomBase62 } from '../../shared/index.js';
import type { Queryable } from '../db/pool.js';
import { newId } from '../ids.js';
import { manageable, type AuthContext } from '../keys/key-store.js';
import type { Role, Scope } from '../keys/roles.js';
import { hashSecret } from '../keys/secrets.js';

export const CLIENT_SECRET_PREFIX = 'lpc_';

export interface ClientRow {
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

const COLUMNS = `id, workspace_id, name, prefix, role, scopes, domains, rate_limit_burst, rate_limit_per_sec, created_by, created_at, revoked_at`;

export async function createClient(
  db: Queryable,
  c: { workspaceId: string; name: string; role: Role; scopes: Scope[]; domains: string[] | null; rateLimit: { burst: number; perSec: number } | null; createdBy: string },
): Promise<{ row: ClientRow; secret: string }> {
  const secret = CLIENT_SECRET_PREFIX + randomBase62(40, (n) => randomBytes(n));
  const { rows } = await db.query<ClientRow>(
    `INSERT INTO oauth_clients (id, workspace_id, name, prefix, secret_hash, role, scopes, domains, rate_limit_burst, rate_limit_per_sec, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
    [newId('oac'), c.workspaceId, c.name, secret.slice(0, CLIENT_SECRET_PREFIX.length + 6), hashSecret(secret), c.role, c.scopes, c.domains,
      c.rateLimit?.burst ?? null, c.rateLimit?.perSec ?? null, c.createdBy],
  );
  return { row: rows[0]!, secret };
}

/** Active clients of the holder's workspace that the holder could have created, newest first. */
export async function listClients(db: Queryable, holder: AuthContext, opts: { limit: number; after: string | null }): Promise<ClientRow[]> {
  const m = manageable(holder, 4);
  const { rows } = await db.query<ClientRow>(
    `SELECT ${COLUMNS} FROM oauth_clients
     WHERE workspace_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR id < $2) AND ${m.sql}
     ORDER BY id DESC LIMIT $3`,
    [holder.workspaceId, opts.after, opts.limit, ...m.params],
  );
  return rows;
}

/** Revokes a client the holder could have created (its tokens stop working at once); null when there is none such. */
export async function revokeClient(db: Queryable, holder: AuthContext, id: string): Promise<ClientRow | null> {
  const m = manageable(holder, 3);
  const { rows } = await db.query<ClientRow>(
    `UPDATE oauth_clients SET revoked_at = now()
     WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL AND ${m.sql} RETURNING ${COLUMNS}`,
    [holder.workspaceId, id, ...m.params],
  );
  return rows[0] ?? null;
}

/** The active client with this id, whatever its secret (a token's subject); null when unknown or revoked. */
export async function activeClient(db: Queryable, id: string): Promise<ClientRow | null> {
  const { rows } = await db.query<ClientRow>({
    name: 'oauth_client_by_id',
    text: `SELECT ${COLUMNS} FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL`,
    values: [id],
  });
  return rows[0] ?? null;
}

/** The active client when `secret` is its secret (compared by hash, in constant time); else null. */
export async function authenticateClient(db: Queryable, id: string, secret: string): Promise<ClientRow | null> {
  const { rows } = await db.query<ClientRow & { secret_hash: Buffer }>(
    `SELECT ${COLUMNS}, secret_hash FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL`,
    [id],
  );
  const row = rows[0];
  if (!row || !timingSafeEqual(row.secret_hash, hashSecret(secret))) return null;
  const { secret_hash: _hash, ...client } = row;
  return client;
}

/** The caller a client's token stands for: the client's current power, scopes narrowed to the token's. */
export function clientAuth(c: ClientRow, tokenScopes: readonly string[]): AuthContext {
  const granted = new Set(tokenScopes);
  return {
    keyId: c.id,
    workspaceId: c.workspace_id,
    role: c.role,
    scopes: new Set(c.scopes.filter((s) => granted.has(s))),
    domains: c.domains,
    name: c.name,
    via: 'oauth_client',
    expiresAt: null,
    rateLimit: c.rate_limit_burst !== null || c.rate_limit_per_sec !== null ? { burst: c.rate_limit_burst ?? 0, perSec: c.rate_limit_per_sec ?? 0 } : null,
  };
}

export function toClientResource(c: ClientRow) {
  return {
    id: c.id,
    client_id: c.id,
    name: c.name,
    prefix: c.prefix,
    role: c.role,
    scopes: c.scopes,
    domains: c.domains,
    rate_limit: c.rate_limit_burst !== null || c.rate_limit_per_sec !== null ? { burst: c.rate_limit_burst ?? 0, per_second: c.rate_limit_per_sec ?? 0 } : null,
    created_at: c.created_at.toISOString(),
  };
}
