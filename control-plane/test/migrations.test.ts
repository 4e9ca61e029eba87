import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, REPO_ROOT, type TestDatabase } from '../../shared/testing/index.js';
import { loadMigrations, migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';

function runMigrateCli(url: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO_ROOT, 'dist/control-plane/db/migrate-cli.js')], {
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

describe('migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('migrations');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('from two processes at once: both succeed, each migration applied exactly once', async () => {
    const [a, b] = await Promise.all([runMigrateCli(db.url), runMigrateCli(db.url)]);
    expect([a.code, b.code], a.out + b.out).toEqual([0, 0]);
    const pool = createPool(db.url, { max: 2 });
    try {
      const { rows } = await pool.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(loadMigrations().map((m) => m.version));
      // and a second run is a no-op
      expect(await migrate(pool)).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('creates the database when it does not exist', async () => {
    const url = db.url.replace(/\/[^/]+$/, `/${db.name}_fresh`);
    const r = await runMigrateCli(url);
    expect(r.code, r.out).toBe(0);
    const pool = createPool(url, { max: 1 });
    const { rows } = await pool.query('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(rows[0].n)).toBe(loadMigrations().length);
    await pool.end();
    const admin = createPool(db.url.replace(/\/[^/]+$/, '/postgres'), { max: 1 });
    await admin.query(`DROP DATABASE "${db.name}_fresh" WITH (FORCE)`);
    await admin.end();
  });

  it('a bad DATABASE_URL fails with a clear message and exit 1', async () => {
    const r = await runMigrateCli('mysql://nope');
    expect(r.code).toBe(1);
    expect(r.out).toContain('DATABASE_URL="mysql://nope" must use postgres or postgresql');
  });
});
