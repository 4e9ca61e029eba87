/**
 * `npm start` as a new user runs it: no DATABASE_URL (embedded Postgres under DATA_DIR), no NATS
 * at NATS_URL (nats-server started from PATH), the printed curl pasted into a shell redirects,
 * Ctrl-C stops everything and leaves nothing running; a second start reuses the data and the key.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startProcess, waitFor, type RunningProcess } from '../../shared/testing/index.js';

const dataDir = mkdtempSync(join(tmpdir(), 'lp-aio-'));
chmodSync(dataDir, 0o755); // as root, Postgres runs as `postgres` and must reach its directory
let launcher: RunningProcess | null = null;

const portOpen = (port: number) =>
  new Promise<boolean>((done) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });

afterAll(async () => {
  await launcher?.stop(30_000);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start (all-in-one)', () => {
  it('starts everything, the printed curl redirects, Ctrl-C stops it all; a restart reuses data and key', async () => {
    const [api, redirect, nats] = [await freePort(), await freePort(), await freePort()];
    const env = { DATA_DIR: dataDir, API_PORT: String(api), REDIRECT_PORT: String(redirect), NATS_URL: `nats://127.0.0.1:${nats}`, NATS_PREFIX: 'lpaio', DATABASE_URL: '' };
    const start = async () => {
      const p = startProcess('deploy/all-in-one.js', env);
      await waitFor('all-in-one ready', () => p.output.some((l) => l.includes('Ctrl-C stops everything')) || p.child.exitCode !== null, 120_000, 200);
      expect(p.child.exitCode, p.output.join('\n')).toBeNull();
      return p;
    };
    launcher = await start();
    const out = launcher.output.join('\n');
    expect(out).toContain(`http://127.0.0.1:${api}`);
    expect(out).toContain(`http://127.0.0.1:${redirect}`);
    expect(out).toContain('nats-server started here');
    expect(out).toContain(`Admin console        http://127.0.0.1:${api}/ui/`);
    const ui = await fetch(`http://127.0.0.1:${api}/ui/`);
    expect([ui.status, ui.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await ui.text()).toContain('<div id="app">');
    const key = /Admin API key\s+(\S+)/.exec(out)?.[1];
    expect(key).toMatch(/^lp_admin_/);
    // the control plane's SECRETS_KEY is generated once and kept with the admin key, readable by the owner only
    const stateFile = join(dataDir, 'all-in-one.json');
    const { secretsKey } = JSON.parse(readFileSync(stateFile, 'utf8')) as { secretsKey: string };
    expect(Buffer.from(secretsKey, 'base64')).toHaveLength(32);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    const curl = launcher.output.find((l) => l.trim().startsWith('curl -s -X POST'))!.trim();
    const shown = execFileSync('bash', ['-c', curl], { encoding: 'utf8' });
    expect(shown).toMatch(/HTTP\/1\.1 302 Found/);
    expect(shown).toMatch(/Location: https:\/\/example\.com\//);

    launcher.signal('SIGINT');
    const exit = await launcher.exited;
    expect(exit.code, launcher.output.join('\n')).toBe(0);
    expect(launcher.output.join('\n')).toContain('stopped.');
    for (const port of [api, redirect, nats]) expect(await portOpen(port)).toBe(false);
    const pgPort = Number(/port (\d+)\)/.exec(out)?.[1]);
    expect(await portOpen(pgPort)).toBe(false);

    launcher = await start();
    const again = launcher.output.join('\n');
    expect(again).not.toContain('initialising an embedded Postgres');
    expect(/Admin API key\s+(\S+)/.exec(again)?.[1]).toBe(key);
    expect((JSON.parse(readFileSync(stateFile, 'utf8')) as { secretsKey: string }).secretsKey).toBe(secretsKey);
    expect(execFileSync('bash', ['-c', launcher.output.find((l) => l.trim().startsWith('curl -s -X POST'))!.trim()], { encoding: 'utf8' })).toMatch(/302 Found/);
    launcher.signal('SIGINT');
    expect((await launcher.exited).code).toBe(0);
    launcher = null;
  }, 240_000);

  it('without NATS and without nats-server on PATH it says exactly what to install, exit 1', async () => {
    const nats = await freePort();
    const bin = mkdtempSync(join(tmpdir(), 'lp-aio-bin-'));
    try {
      // a PATH with node but no nats-server
      execFileSync('ln', ['-s', process.execPath, join(bin, 'node')]);
      const p = startProcess('deploy/all-in-one.js', {
        PATH: bin, DATA_DIR: join(dataDir, 'no-nats'), NATS_URL: `nats://127.0.0.1:${nats}`, DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
      });
      const { code } = await p.exited;
      expect(code).toBe(1);
      const out = p.output.join('\n');
      expect(out).toContain('nats-server was not found on PATH');
      expect(out).toContain('brew install nats-server');
      expect(out).toContain('https://github.com/nats-io/nats-server/releases');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
