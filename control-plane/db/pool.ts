import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything that can run a query: the pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

export function createPool(url: string, opts: { max?: number; applicationName?: string } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'linkplane',
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => undefined);
  // Nor one whose connection errors while the pool ends it, or after its holder released it (a
  // Postgres stopping while the control plane stops): pg-pool detaches its idle listener from a
  // client it is removing, and an 'error' with no listener is thrown. Queries in flight still
  // reject with the error; holders that care keep listening themselves.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
