/**
 * A node whose start fails exits non-zero at once with the cause on stderr (nothing of it keeps
 * running: not the sync thread, not click capture), and a signal during the start stops it.
 * Real node processes (dist/data-plane/main.js) against the test NATS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestNode } from './harness.js';
import { cleanupNatsPrefix, freePort, REPO_ROOT, startProcess, testPrefix, TEST_NATS_URL, waitFor, type RunningProcess } from '../../shared/testing/index.js';

const prefix = testPrefix('fs');
const dirs: string[] = [];
const procs: RunningProcess[] = [];
const mounts: string[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(2000)));
  for (const m of mounts) execFileSync('umount', [m]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await cleanupNatsPrefix(prefix);
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lp-failed-start-'));
  dirs.push(d);
  return d;
}

/**
 * A real tmpfs of `sizeMb` (root only); null when this machine cannot mount one, and the tests that
 * need it are skipped (the threshold test below still runs).
 */
function tmpfs(sizeMb: number, opts = ''): string | null {
  const dir = tempDir();
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m${opts}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    return null;
  }
  mounts.push(dir);
  return dir;
}
const canMount = (() => {
  const d = mkdtempSync(join(tmpdir(), 'lp-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', d], { stdio: 'pipe' });
    execFileSync('umount', [d]);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
})();

/** Fills the file system under `dir` to the last byte (dd-style, until ENOSPC). */
function fill(dir: string): void {
  const chunk = Buffer.alloc(1024 * 1024);
  const f = join(dir, 'filler');
  for (;;) {
    try {
      writeFileSync(f, chunk, { flag: 'a' });
    } catch {
      break;
    }
  }
  for (const size of [65536, 4096, 512, 1]) {
    for (;;) {
      try {
        writeFileSync(f, chunk.subarray(0, size), { flag: 'a' });
      } catch {
        break;
      }
    }
  }
}

/** A plain file: nothing can be created under it, not even by root (ENOTDIR). */
function aFile(): string {
  const f = join(tempDir(), 'a-file');
  writeFileSync(f, 'not a directory\n');
  return f;
}

async function node(env: Record<string, string>): Promise<RunningProcess> {
  const p = startProcess('data-plane/main.js', {
    HOST: '127.0.0.1',
    PORT: env.PORT ?? String(await freePort()),
    OPS_PORT: String(await freePort()),
    NATS_URL: TEST_NATS_URL,
    NATS_PREFIX: prefix,
    WORKERS: '1',
    SHUTDOWN_GRACE_MS: '100',
    ...env,
  });
  procs.push(p);
  return p;
}

/** Waits for the exit (at most `withinMs`) and returns it with the time it took. */
async function exitOf(p: RunningProcess, withinMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = performance.now();
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${withinMs} ms:\n${p.output.join('\n')}`)), withinMs));
  const r = await Promise.race([p.exited, timeout]);
  return { ...r, ms: performance.now() - t0 };
}

const stderrLine = (p: RunningProcess) => p.output.find((l) => l.startsWith('data-plane: node failed to start: '));

describe('a node whose start fails', () => {
  it('exits 1 promptly when CLICK_DIR cannot be created, naming it and the OS error', async () => {
    const clickDir = join(aFile(), 'clicks');
    const p = await node({ LMDB_PATH: tempDir(), CLICK_DIR: clickDir });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toBe(
      `data-plane: node failed to start: click capture cannot start in CLICK_DIR=${clickDir}: ENOTDIR: not a directory, mkdir '${clickDir}/spool'`,
    );
    const fatal = p.logs().find((l) => l.msg === 'node failed to start');
    expect(fatal?.level).toBe('fatal');
  });

  it('exits 1 promptly when the store cannot be opened, with the cause', async () => {
    const lmdbPath = join(aFile(), 'lmdb');
    const p = await node({ LMDB_PATH: lmdbPath });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toContain(`LMDB_PATH=${lmdbPath}`);
    expect(stderrLine(p)).toContain(`ENOTDIR: not a directory, mkdir '${lmdbPath}'`);
  });

  it.skipIf(!canMount)('on a completely full volume (a real tmpfs): exit 1 with ENOSPC named, no SIGBUS, no 0-byte store left', async () => {
    const m = tmpfs(16)!;
    fill(m);
    const lmdbPath = join(m, 'lmdb');
    const p = await node({ LMDB_PATH: lmdbPath });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toBe(
      `data-plane: node failed to start: the store cannot be opened in LMDB_PATH=${lmdbPath}: its file system is full: ENOSPC: no space left on device, write`,
    );
    expect(readdirSync(lmdbPath)).toEqual([]);
  });

  it.skipIf(!canMount)('with less than STORE_MIN_FREE_MB free (a real 16 MiB tmpfs with 1 MiB left): exit 1 saying how much is free', async () => {
    const m = tmpfs(16)!;
    writeFileSync(join(m, 'filler'), Buffer.alloc(15 * 1024 * 1024));
    const p = await node({ LMDB_PATH: m });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toBe(
      `data-plane: node failed to start: the store cannot be opened in LMDB_PATH=${m}: only 1.0 MiB free on its file system; the node needs at least 8.0 MiB to map its store (STORE_MIN_FREE_MB)`,
    );
    expect(readdirSync(m)).toEqual(['filler']);
  });

  it('refuses a volume below STORE_MIN_FREE_MB wherever it runs (the threshold raised past any disk: simulated, not a full disk)', async () => {
    const lmdbPath = tempDir();
    const p = await node({ LMDB_PATH: lmdbPath, STORE_MIN_FREE_MB: '1000000' });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toMatch(new RegExp(`^data-plane: node failed to start: the store cannot be opened in LMDB_PATH=${lmdbPath}: only \\d+\\.\\d MiB free on its file system; the node needs at least 1000000\\.0 MiB to map its store \\(STORE_MIN_FREE_MB\\)$`));
    expect(readdirSync(lmdbPath)).toEqual([]);
  });

  it.skipIf(!canMount)('on a read-only file system: exit 1 saying so', async () => {
    const m = tmpfs(4, ',ro')!;
    const p = await node({ LMDB_PATH: m });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toBe(
      `data-plane: node failed to start: the store cannot be opened in LMDB_PATH=${m}: the directory is on a read-only file system: EROFS: read-only file system, open '${m}/.write-probe'`,
    );
  });

  it.skipIf(process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv'))('in a directory its user cannot write: exit 1 naming the uid, the owner and the mode', async () => {
    const parent = tempDir();
    chmodSync(parent, 0o755);
    const lmdbPath = join(parent, 'store');
    mkdirSync(lmdbPath, { mode: 0o755 });
    // the node as uid 65534 (nobody), as a container's non-root user would run it
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(REPO_ROOT, 'dist/data-plane/main.js')], {
      cwd: REPO_ROOT,
      env: { ...process.env, HOST: '127.0.0.1', PORT: String(await freePort()), OPS_PORT: String(await freePort()), NATS_URL: TEST_NATS_URL, NATS_PREFIX: prefix, WORKERS: '1', LMDB_PATH: lmdbPath },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 1, signal: null });
    expect(r.stderr.split('\n').find((l) => l.startsWith('data-plane: node failed to start: '))).toBe(
      `data-plane: node failed to start: the store cannot be opened in LMDB_PATH=${lmdbPath}: the directory is not writable by uid 65534 (it belongs to uid 0, gid 0, mode 0755): EACCES: permission denied, open '${lmdbPath}/.write-probe'`,
    );
  });

  it('stops on SIGTERM while it is still starting: exit 0 within moments, whichever step the signal met', async () => {
    const p = await node({ LMDB_PATH: tempDir(), WORKERS: '8' });
    await waitFor('the start to begin', () => p.logs().some((l) => l.msg === 'starting'), 20_000, 5);
    p.signal('SIGTERM');
    const r = await exitOf(p, 10_000);
    expect(r).toMatchObject({ code: 0, signal: null });
    const msgs = p.logs().map((l) => l.msg);
    // before the store opened the start is cut short; after, the threads finish starting and drain
    const outcome = msgs.includes('stopped while starting') ? 'interrupted' : msgs.includes('stopped') ? 'drained' : 'neither';
    expect(outcome).not.toBe('neither');
    expect(msgs.includes('redirect node listening')).toBe(outcome === 'drained');
  });
});

describe('a node started on a port already in use', () => {
  it('fails when another node listens there (uWS would silently share it), and the first keeps serving', async () => {
    const first = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, waitReady: false });
    try {
      const p = await node({ LMDB_PATH: tempDir(), PORT: String(first.port), WORKERS: '2' });
      const r = await exitOf(p, 15_000);
      expect(r).toMatchObject({ code: 1, signal: null });
      expect(stderrLine(p)).toBe(
        `data-plane: node failed to start: PORT=${first.port} on 127.0.0.1 is already in use (another node or program listens there); ` +
          `set REUSE_PORT=true only to share it on purpose: listen EADDRINUSE: address already in use 127.0.0.1:${first.port}`,
      );
      expect((await fetch(first.url('/healthz'))).status).toBe(200);
    } finally {
      await first.destroy();
    }
  });

  it('shares it with REUSE_PORT=true (a handover on one host), and stops cleanly', async () => {
    const first = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, waitReady: false });
    try {
      const p = await node({ LMDB_PATH: tempDir(), PORT: String(first.port), WORKERS: '2', REUSE_PORT: 'true' });
      await waitFor('the second node to listen', () => p.logs().find((l) => l.msg === 'redirect node listening'), 30_000);
      expect(p.logs().find((l) => l.msg === 'redirect node listening')?.port).toBe(first.port);
      expect(await p.stop()).toEqual({ code: 0, signal: null });
      expect((await fetch(first.url('/healthz'))).status).toBe(200);
    } finally {
      await first.destroy();
    }
  });

  it('with REUSE_PORT=true still fails when a program that does not share the port holds it', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    try {
      const p = await node({ LMDB_PATH: tempDir(), PORT: String(port), WORKERS: '2', REUSE_PORT: 'true' });
      const r = await exitOf(p, 15_000);
      expect(r).toMatchObject({ code: 1, signal: null });
      expect(stderrLine(p)).toMatch(new RegExp(`^data-plane: node failed to start: serving thread [01]: cannot listen on 127\\.0\\.0\\.1:${port}$`));
    } finally {
      holder.close();
    }
  });
});
