/** API keys in Postgres: create (secret shown once), list, revoke, resolve a presented secret. */
import type { Pool, Queryable } from '../db/pool.js';
import { withTx } from '../db/tx.js';
import { BOOTSTRAP_WORKSPACE_ID } from '../ids.js';
import {
  CREDENTIAL_COLUMNS, credentialAuth, insertCredential, listManageable, revokeManageable,
  type AuthContext, type CredentialRow, type CredentialTable,
} from './credential-store.js';
import { ROLE_SCOPES, SYSTEM_SCOPE, type Role, type Scope } from './roles.js';
import { hashSecret, SECRET_PREFIX } from './secrets.js';

export type { AuthContext } from './credential-store.js';

export interface ApiKeyRow extends CredentialRow {
  last_used_at: Date | null;
  expires_at: Date | null;
}

const KEYS: CredentialTable = { table: 'api_keys', idPrefix: 'key', secretPrefix: SECRET_PREFIX, columns: `${CREDENTIAL_COLUMNS}, last_used_at, expires_at` };

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
  return insertCredential<ApiKeyRow>(db, KEYS, {
    workspaceId: k.workspaceId, name: k.name, role: k.role, scopes: k.scopes ?? [...ROLE_SCOPES[k.role]], domains: k.domains ?? null,
    rateLimit: k.rateLimit ?? null, createdBy: k.createdBy ?? null, ...(k.secret !== undefined ? { secret: k.secret } : {}),
  }, { expires_at: k.expiresAt ?? null });
}

/** Active keys of the holder's workspace that the holder could have created, newest first. */
export function listKeys(db: Queryable, holder: AuthContext, opts: { limit: number; after: string | null }): Promise<ApiKeyRow[]> {
  return listManageable<ApiKeyRow>(db, KEYS, holder, opts);
}

/** The caller's own key (GET /v1/keys/me): what it is and what it may do, never its secret. */
export async function ownKey(db: Queryable, holder: AuthContext): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${KEYS.columns} FROM api_keys WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL`,
    [holder.workspaceId, holder.keyId],
  );
  return rows[0] ?? null;
}

/** Revokes a key the holder could have created; null when there is none such (missing, revoked or above the holder). */
export function revokeKey(db: Queryable, holder: AuthContext, id: string): Promise<ApiKeyRow | null> {
  return revokeManageable<ApiKeyRow>(db, KEYS, holder, id);
}

/** The key a secret names: its context, `'expired'` past its expires_at, or null (unknown or revoked). */
export async function authenticate(db: Queryable, secret: string, now = Date.now(), hash = hashSecret(secret)): Promise<AuthContext | 'expired' | null> {
  // every authenticated request runs this: a named statement, parsed and planned once per connection;
  // a key's secret alone names it (secret_hash is unique), so no id is needed
  const { rows } = await db.query<ApiKeyRow>({
    name: 'api_key_by_secret',
    text: `SELECT ${KEYS.columns} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`,
    values: [hash],
  });
  const row = rows[0];
  if (!row) return null;
  if (row.expires_at && row.expires_at.getTime() <= now) return 'expired';
  return credentialAuth(row, 'api_key', { expiresAt: row.expires_at });
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
