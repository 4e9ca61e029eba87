/**
 * A node whose start fails exits non-zero at once with the cause on stderr (nothing of it keeps
 * running: not the sync thread, not click capture), and a signal during the start stops it.
 * Real node processes (dist/data-plane/main.js) against the test NATS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, freePort, startProcess, testPrefix, TEST_NATS_URL, waitFor, type RunningProcess } from '../../shared/testing/index.js';

const prefix = testPrefix('fs');
const dirs: string[] = [];
const procs: RunningProcess[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(2000)));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await cleanupNatsPrefix(prefix);
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lp-failed-start-'));
  dirs.push(d);
  return d;
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
    PORT: String(await freePort()),
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
    expect(fatal?.level).toBe(60);
  });

  it('exits 1 promptly when the store cannot be opened, with the cause', async () => {
    const lmdbPath = join(aFile(), 'lmdb');
    const p = await node({ LMDB_PATH: lmdbPath });
    const r = await exitOf(p, 15_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(stderrLine(p)).toContain(`LMDB_PATH=${lmdbPath}`);
    expect(stderrLine(p)).toContain(`ENOTDIR: not a directory, mkdir '${lmdbPath}'`);
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
