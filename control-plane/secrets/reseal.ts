/**
 * Moves every stored secret to the current SECRETS_KEY: plaintext rows from before sealing are
 * sealed, rows sealed under an old key (SECRETS_KEYS_OLD) are re-sealed. Run at start, before the
 * API and workers, and in maintenance (rows an older process wrote during a rolling change).
 * Each row is updated only if it still holds the value read (compare-and-set), so control planes
 * re-sealing at once never lose a rotation.
 */
import type { Pool } from '../db/pool.js';
import { openStored, SecretBoxError, type SecretBox } from './secret-box.js';

/** The tables whose job is to hold secrets: which column, and the context a value is sealed for. */
export const SEALED_COLUMNS = [
  { table: 'webhook_secrets', column: 'secret', context: (id: string) => `webhook_secrets:${id}` },
  { table: 'jobs', column: 'callback_secret', context: (id: string) => `jobs:${id}` },
  // the private half of each JWT signing key (oauth/signing-keys.ts), the current one and the retired
  { table: 'jwt_signing_keys', column: 'private_jwk', context: (id: string) => `jwt_signing_keys:${id}` },
] as const;

export type SealedTable = (typeof SEALED_COLUMNS)[number]['table'];

export function sealContext(table: SealedTable, id: string): string {
  return SEALED_COLUMNS.find((c) => c.table === table)!.context(id);
}

/** How many rows a re-seal moved, all tables together. */
export const resealedCount = (r: ResealResult): number => Object.values(r.resealed).reduce((a, b) => a + b, 0);

export interface ResealResult {
  resealed: Record<SealedTable, number>;
  /** Rows that could not be opened (sealed under a key not held, or damaged): `table:id: why`. */
  failed: string[];
}

const BATCH = 500;

export async function resealSecrets(pool: Pool, box: SecretBox): Promise<ResealResult> {
  const result: ResealResult = { resealed: { webhook_secrets: 0, jobs: 0, jwt_signing_keys: 0 }, failed: [] };
  for (const { table, column, context } of SEALED_COLUMNS) {
    let after = '';
    for (;;) {
      const { rows } = await pool.query<{ id: string; value: string }>(
        `SELECT id, ${column} AS value FROM ${table}
         WHERE ${column} IS NOT NULL AND NOT starts_with(${column}, $1) AND id > $2 ORDER BY id LIMIT ${BATCH}`,
        [box.currentPrefix, after],
      );
      for (const r of rows) {
        let plain: string;
        try {
          plain = openStored(box, r.value, context(r.id));
        } catch (err) {
          if (!(err instanceof SecretBoxError)) throw err;
          result.failed.push(`${table} ${r.id}: ${err.message}`);
          continue;
        }
        const upd = await pool.query(`UPDATE ${table} SET ${column} = $3 WHERE id = $1 AND ${column} = $2`, [r.id, r.value, box.seal(plain, context(r.id))]);
        result.resealed[table] += upd.rowCount ?? 0;
      }
      if (rows.length < BATCH) break;
      after = rows[rows.length - 1]!.id;
    }
  }
  return result;
}
