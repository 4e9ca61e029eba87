/** `npm run migrate`: applies pending migrations to DATABASE_URL and exits. */
import { ConfigError, createLogger } from '../../shared/index.js';
import { loadControlPlaneConfig } from '../config.js';
import { ensureDatabase } from './ensure-database.js';
import { migrate } from './migrate.js';
import { createPool } from './pool.js';

async function main(): Promise<void> {
  const config = loadControlPlaneConfig();
  const log = createLogger({ name: 'migrate', level: config.LOG_LEVEL });
  await ensureDatabase(config.DATABASE_URL);
  const pool = createPool(config.DATABASE_URL, { max: 2, applicationName: 'linkplane-migrate' });
  try {
    const applied = await migrate(pool, log);
    log.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date');
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error(err);
  process.exit(1);
});
