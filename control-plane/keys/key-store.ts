/** API keys in Postgres: create (secret shown once), list, revoke, resolve a presented secret. */
import type { Pool, Queryable } from '../db/pool.js';
import { withTx } from '../db/tx.js';
import { BOOTSTRAP_WORKSPACE_ID, newId } from '../ids.js';
import { rolesWithin } from './key-power.js';
import { ROLE_SCOPES, SYSTEM_SCOPE, type Role, type Scope } from './roles.js';
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

export interface ApiKeyRow {
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
  last_used_at: Date | null;
  revoked_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS = `id, workspace_id, name, prefix, role, scopes, domains, rate_limit_burst, rate_limit_per_sec,
  created_by, created_at, last_used_at, revoked_at, expires_at`;

export interface NewKey {
  workspaceId: string;
  name: string;
  role: Role;
  scopes?: Scope[];
  domains?: string[] | null;
  rateLimit?: { burst: number; perSec: number } | null;
  createdBy?: string | null;
  expiresAt?: Date | null;
  /** Use this secret instead of generating one (bootstrap only). */
  secret?: string;
}

export async function createKey(db: Queryable, k: NewKey): Promise<{ row: ApiKeyRow; secret: string }> {
  const secret = k.secret ?? generateSecret();
  const scopes = k.scopes ?? [...ROLE_SCOPES[k.role]];
  const { rows } = await db.query<ApiKeyRow>(
    `INSERT INTO api_keys (id, workspace_id, name, prefix, secret_hash, role, scopes, domains,
       rate_limit_burst, rate_limit_per_sec, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${COLUMNS}`,
    [
      newId('key'), k.workspaceId, k.name, secretPrefix(secret), hashSecret(secret), k.role, scopes,
      k.domains ?? null, k.rateLimit?.burst ?? null, k.rateLimit?.perSec ?? null, k.createdBy ?? null,
      k.expiresAt ?? null,
    ],
  );
  return { row: rows[0]!, secret };
}

/**
 * The keys `holder` could have created (key-power.ts `canManage`, in SQL): role and scopes within
 * its own, domains within its own (an unrestricted holder: any). Others are neither listed nor revocable.
 */
export function manageable(holder: AuthContext, first: number): { sql: string; params: unknown[] } {
  return {
    sql: `role = ANY($${first}::text[]) AND scopes <@ $${first + 1}::text[]
      AND ($${first + 2}::text[] IS NULL OR (domains IS NOT NULL AND domains <@ $${first + 2}::text[]))`,
    params: [rolesWithin(holder.role), [...holder.scopes], holder.domains],
  };
}

/** Active keys of the holder's workspace that the holder could have created, newest first. */
export async function listKeys(db: Queryable, holder: AuthContext, opts: { limit: number; after: string | null }): Promise<ApiKeyRow[]> {
  const m = manageable(holder, 4);
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys
     WHERE workspace_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR id < $2) AND ${m.sql}
     ORDER BY id DESC LIMIT $3`,
    [holder.workspaceId, opts.after, opts.limit, ...m.params],
  );
  return rows;
}

/** The caller's own key (GET /v1/keys/me): what it is and what it may do, never its secret. */
export async function ownKey(db: Queryable, holder: AuthContext): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${COLUMNS} FROM api_keys WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL`,
    [holder.workspaceId, holder.keyId],
  );
  return rows[0] ?? null;
}

/** Revokes a key the holder could have created; null when there is none such (missing, revoked or above the holder). */
export async function revokeKey(db: Queryable, holder: AuthContext, id: string): Promise<ApiKeyRow | null> {
  const m = manageable(holder, 3);
  const { rows } = await db.query<ApiKeyRow>(
    `UPDATE api_keys SET revoked_at = now()
     WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL AND ${m.sql} RETURNING ${COLUMNS}`,
    [holder.workspaceId, id, ...m.params],
  );
  return rows[0] ?? null;
}

/** The key a secret names: its context, `'expired'` past its expires_at, or null (unknown or revoked). */
export async function authenticate(db: Queryable, secret: string, now = Date.now()): Promise<AuthContext | 'expired' | null> {
  // every authenticated request runs this: a named statement, parsed and planned once per connection
  const { rows } = await db.query<ApiKeyRow>({
    name: 'api_key_by_secret',
    text: `SELECT ${COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`,
    values: [hashSecret(secret)],
  });
  const row = rows[0];
  if (!row) return null;
  if (row.expires_at && row.expires_at.getTime() <= now) return 'expired';
  return {
    keyId: row.id,
    workspaceId: row.workspace_id,
    role: row.role,
    scopes: new Set(row.scopes),
    domains: row.domains,
    name: row.name,
    expiresAt: row.expires_at,
    rateLimit:
      row.rate_limit_burst !== null || row.rate_limit_per_sec !== null
        ? { burst: row.rate_limit_burst ?? 0, perSec: row.rate_limit_per_sec ?? 0 }
        : null,
  };
}

/**
 * BOOTSTRAP_ADMIN_KEY: when no key exists at all, create workspace `default` and an admin key
 * with the given secret; that key also holds the platform scope `system` (workspaces). When keys
 * exist, the live key with that secret (created by an earlier bootstrap) is given `system` if it
 * lacks it. Safe to call from several control planes at once (advisory xact lock).
 */
export async function bootstrapAdminKey(pool: Pool, secret: string): Promise<'created' | 'exists'> {
  return withTx(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [0x6c70626b]);
    const { rows } = await tx.query('SELECT 1 FROM api_keys LIMIT 1');
    if (rows.length > 0) {
      await tx.query(
        `UPDATE api_keys SET scopes = array_append(scopes, $2) WHERE secret_hash = $1 AND revoked_at IS NULL AND role = 'admin' AND NOT ($2 = ANY(scopes))`,
        [hashSecret(secret), SYSTEM_SCOPE],
      );
      return 'exists';
    }
    await tx.query(`INSERT INTO workspaces (id, name) VALUES ($1, 'default') ON CONFLICT (name) DO NOTHING`, [BOOTSTRAP_WORKSPACE_ID]);
    const ws = await tx.query<{ id: string }>(`SELECT id FROM workspaces WHERE name = 'default'`);
    await createKey(tx, { workspaceId: ws.rows[0]!.id, name: 'bootstrap admin', role: 'admin', scopes: [...ROLE_SCOPES.admin, SYSTEM_SCOPE], secret });
    return 'created';
  });
}
