/**
 * Idempotency records. A request reserves its key (a row `in_flight` with a lease); the
 * response is written in the SAME transaction as the change it reports (`complete`), so a
 * committed change always has its stored response and a crash leaves nothing to replay wrongly:
 * an in-flight row whose lease expired never committed anything and may be taken over.
 *
 * Records belong to the API key that made them (workspace, key id, Idempotency-Key): another key
 * of the workspace never sees, replays, recovers or blocks them (issue 12).
 */
import type { Pool, Queryable } from '../db/pool.js';

export const IDEMPOTENCY_TTL_HOURS = 24;
export const LEASE_SECONDS = 60;

export interface Reservation {
  workspaceId: string;
  apiKeyId: string;
  key: string;
  /** Set once the response is stored, so the onSend fallback doesn't store it twice. */
  completed: boolean;
  /**
   * Set while no record is written yet (a route that reserves in its own write statement: the link
   * create and update, links/link-write-one.ts): what the record will hold. That statement writes
   * the record, completed, together with the change, and writes nothing when a record for the key
   * exists (then the route reserves here as every other route does, and obeys the verdict).
   */
  deferred?: { method: string; path: string; hash: Buffer };
}

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type ReserveResult =
  | { kind: 'reserved' }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'mismatch' }
  | { kind: 'in_flight' };

interface Row {
  request_hash: Buffer;
  state: 'in_flight' | 'completed';
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

export async function reserve(
  db: Queryable,
  r: { workspaceId: string; key: string; apiKeyId: string; method: string; path: string; hash: Buffer },
): Promise<ReserveResult> {
  const ins = await db.query({
    name: 'idempotency_reserve',
    text: `INSERT INTO idempotency_keys AS k (workspace_id, idem_key, api_key_id, method, path, request_hash, state, locked_until, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'in_flight', now() + make_interval(secs => $7), now() + make_interval(hours => $8))
     ON CONFLICT (workspace_id, api_key_id, idem_key) DO UPDATE SET
       method = EXCLUDED.method, path = EXCLUDED.path,
       request_hash = EXCLUDED.request_hash, state = 'in_flight', locked_until = EXCLUDED.locked_until,
       response_status = NULL, response_headers = NULL, response_body = NULL,
       created_at = now(), completed_at = NULL, expires_at = EXCLUDED.expires_at
     WHERE k.expires_at < now()
        OR (k.state = 'in_flight' AND k.locked_until < now() AND k.request_hash = EXCLUDED.request_hash)
     RETURNING 1`,
    values: [r.workspaceId, r.key, r.apiKeyId, r.method, r.path, r.hash, LEASE_SECONDS, IDEMPOTENCY_TTL_HOURS],
  });
  if (ins.rowCount === 1) return { kind: 'reserved' };
  const { rows } = await db.query<Row>(
    `SELECT request_hash, state, response_status, response_headers, response_body
     FROM idempotency_keys WHERE workspace_id = $1 AND api_key_id = $2 AND idem_key = $3`,
    [r.workspaceId, r.apiKeyId, r.key],
  );
  const row = rows[0];
  if (!row) return reserve(db, r); // expired and purged between the two statements
  if (!row.request_hash.equals(r.hash)) return { kind: 'mismatch' };
  if (row.state === 'in_flight') return { kind: 'in_flight' };
  return {
    kind: 'replay',
    response: { status: row.response_status!, headers: row.response_headers ?? {}, body: row.response_body ?? '' },
  };
}

export async function complete(db: Queryable, res: Reservation, response: StoredResponse): Promise<void> {
  await db.query({
    name: 'idempotency_complete',
    text: `UPDATE idempotency_keys SET state = 'completed', response_status = $4, response_headers = $5,
       response_body = $6, completed_at = now(), locked_until = NULL
     WHERE workspace_id = $1 AND api_key_id = $2 AND idem_key = $3 AND state = 'in_flight'`,
    values: [res.workspaceId, res.apiKeyId, res.key, response.status, JSON.stringify(response.headers), response.body],
  });
}

/** Frees a reservation whose request failed with a server error, so a retry can run. */
export async function release(db: Queryable, res: Reservation): Promise<void> {
  await db.query(`DELETE FROM idempotency_keys WHERE workspace_id = $1 AND api_key_id = $2 AND idem_key = $3 AND state = 'in_flight'`, [
    res.workspaceId,
    res.apiKeyId,
    res.key,
  ]);
}

export interface RecoveredRecord {
  key: string;
  state: 'in_flight' | 'completed';
  method: string;
  path: string;
  created_at: Date;
  expires_at: Date;
  response: StoredResponse | null;
}

/** The caller's own record for `key` (another key's record with the same name is as absent as none). */
export async function recover(db: Queryable, workspaceId: string, apiKeyId: string, key: string): Promise<RecoveredRecord | null> {
  const { rows } = await db.query<Row & { idem_key: string; method: string; path: string; created_at: Date; expires_at: Date }>(
    `SELECT idem_key, method, path, state, request_hash, response_status, response_headers, response_body, created_at, expires_at
     FROM idempotency_keys WHERE workspace_id = $1 AND api_key_id = $2 AND idem_key = $3 AND expires_at > now()`,
    [workspaceId, apiKeyId, key],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    key: row.idem_key,
    state: row.state,
    method: row.method,
    path: row.path,
    created_at: row.created_at,
    expires_at: row.expires_at,
    response:
      row.state === 'completed'
        ? { status: row.response_status!, headers: row.response_headers ?? {}, body: row.response_body ?? '' }
        : null,
  };
}

export async function purgeExpired(pool: Pool): Promise<number> {
  const r = await pool.query(`DELETE FROM idempotency_keys WHERE expires_at < now() - interval '1 hour'`);
  return r.rowCount ?? 0;
}
