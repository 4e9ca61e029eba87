/**
 * A pool client checked out for several statements, safe against Postgres going away: pg emits
 * 'error' on a checked-out client whose connection drops between queries, and with no listener
 * that is an uncaught exception that takes the whole process down. Here the error is recorded
 * (the next query fails with it anyway) and the broken connection is not returned to the pool.
 */
import type { Pool, PoolClient } from '../db/pool.js';

export async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | null = null;
  const onError = (err: Error) => {
    broken = err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken ?? undefined);
  }
}

/** Runs `fn` in a transaction on a guarded client (see withClient). */
export function withGuardedTx<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, async (client) => {
    await client.query('BEGIN');
    try {
      const r = await fn(client);
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
