/**
 * OAuth2 clients (client credentials): credentials like API keys (keys/credential-store.ts) — a
 * role, scopes, a domain limit and a rate limit, the client_secret shown once and stored hashed,
 * listed and revoked only by a holder that could have created them. Unlike a key, a client is
 * found by its client_id and then its secret compared, and it does not expire.
 */
import type { Queryable } from '../db/pool.js';
import {
  CREDENTIAL_COLUMNS, credentialAuth, insertCredential, listManageable, rateLimitResource, revokeManageable, secretMatches,
  type AuthContext, type CredentialRow, type CredentialTable, type NewCredential,
} from '../keys/credential-store.js';

export const CLIENT_SECRET_PREFIX = 'lpc_';

export type ClientRow = CredentialRow;

const CLIENTS: CredentialTable = { table: 'oauth_clients', idPrefix: 'oac', secretPrefix: CLIENT_SECRET_PREFIX, columns: CREDENTIAL_COLUMNS };

export function createClient(db: Queryable, c: Omit<NewCredential, 'secret'> & { createdBy: string }): Promise<{ row: ClientRow; secret: string }> {
  return insertCredential<ClientRow>(db, CLIENTS, c);
}

/** Active clients of the holder's workspace that the holder could have created, newest first. */
export function listClients(db: Queryable, holder: AuthContext, opts: { limit: number; after: string | null }): Promise<ClientRow[]> {
  return listManageable<ClientRow>(db, CLIENTS, holder, opts);
}

/** Revokes a client the holder could have created (its tokens stop working at once); null when there is none such. */
export function revokeClient(db: Queryable, holder: AuthContext, id: string): Promise<ClientRow | null> {
  return revokeManageable<ClientRow>(db, CLIENTS, holder, id);
}

/** The active client with this id, whatever its secret (a token's subject); null when unknown or revoked. */
export async function activeClient(db: Queryable, id: string): Promise<ClientRow | null> {
  const { rows } = await db.query<ClientRow>({
    name: 'oauth_client_by_id',
    text: `SELECT ${CREDENTIAL_COLUMNS} FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL`,
    values: [id],
  });
  return rows[0] ?? null;
}

/** The active client when `secret` is its secret (compared by hash, in constant time); else null. */
export async function authenticateClient(db: Queryable, id: string, secret: string): Promise<ClientRow | null> {
  const { rows } = await db.query<ClientRow & { secret_hash: Buffer }>(
    `SELECT ${CREDENTIAL_COLUMNS}, secret_hash FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL`,
    [id],
  );
  const row = rows[0];
  if (!row || !secretMatches(row.secret_hash, secret)) return null;
  const { secret_hash: _hash, ...client } = row;
  return client;
}

/** The caller a client's token stands for: the client's current power, scopes narrowed to the token's. */
export function clientAuth(c: ClientRow, tokenScopes: readonly string[]): AuthContext {
  return credentialAuth(c, 'oauth_client', { scopes: tokenScopes });
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
    rate_limit: rateLimitResource(c),
    created_at: c.created_at.toISOString(),
  };
}
