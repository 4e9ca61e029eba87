/**
 * Postgres for tests: a fresh database per test file on the machine's server, or a whole
 * temporary cluster on a free port for tests that stop Postgres.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './ports.js';

export const ADMIN_URL = process.env.TEST_ADMIN_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates `lpt_<label>_<random>`; `drop()` terminates its connections and drops it. */
export async function createTestDatabase(label = 'db', adminUrl = ADMIN_URL): Promise<TestDatabase> {
  const name = `lpt_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase().slice(0, 30)}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE template0`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

function pgBin(tool: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, 'bin', tool);
    if (existsSync(p)) return p;
  }
  return tool;
}

export interface TempCluster {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
}

/** A throwaway Postgres cluster on a free loopback port (initdb runs as the `postgres` user when root). */
export async function startTempCluster(): Promise<TempCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'lp-pg-'));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const cmd = asRoot ? 'runuser' : pgBin(tool);
      const argv = asRoot ? ['-u', 'postgres', '--', pgBin(tool), ...args] : args;
      const p = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${tool} ${args.join(' ')} failed: ${err}`))));
    });
  await run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const cluster: TempCluster = {
    port,
    url,
    async start() {
      await run('pg_ctl', ['-D', join(dir, 'data'), '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
      await waitFor('temp postgres', async () => {
        const c = new pg.Client({ connectionString: url });
        try {
          await c.connect();
          await c.end();
          return true;
        } catch {
          return false;
        }
      });
    },
    async stop(mode = 'fast') {
      await run('pg_ctl', ['-D', join(dir, 'data'), '-w', '-m', mode, 'stop']).catch(() => undefined);
    },
    async destroy() {
      await cluster.stop('immediate');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
