import type pg from 'pg';

/** Runs `fn` in a transaction on one client: COMMIT on success, ROLLBACK on any throw. */
export async function withTx<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Runs `fn` inside a savepoint; a throw rolls back to it and rethrows. */
export async function withSavepoint<T>(client: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('SAVEPOINT sp');
  try {
    const r = await fn();
    await client.query('RELEASE SAVEPOINT sp');
    return r;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT sp');
    throw err;
  }
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
