/** Real processes for tests: the compiled planes (dist/), started, watched, signalled. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { waitFor } from './ports.js';

/**
 * The checkout: the first directory above this file that holds package.json, so it is right both
 * from source (shared/testing/) and compiled (dist/shared/testing/, as the benches run it).
 */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** The SECRETS_KEY of test control planes (32 bytes, base64); a test may pass its own, or '' for none. */
export const TEST_SECRETS_KEY = Buffer.from('linkplane-test-secrets-key-32b!!').toString('base64');

export interface RunningProcess {
  child: ChildProcess;
  /** stdout+stderr lines so far. */
  output: string[];
  /** Parsed pino JSON lines so far. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then wait for exit; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node dist/<script>` (e.g. `data-plane/main.js`) with `env` on top of the current environment
 * (and SECRETS_KEY = TEST_SECRETS_KEY unless `env` names one).
 */
export function startProcess(script: string, env: Record<string, string>, opts: { echo?: boolean } = {}): RunningProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', join(REPO_ROOT, 'dist', script)], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', SECRETS_KEY: TEST_SECRETS_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const onData = (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (line) {
        output.push(line);
        if (opts.echo || process.env.LP_TEST_ECHO) process.stderr.write(`[${script}] ${line}\n`);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output,
    logs: () =>
      output.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
    exited,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** Waits until GET `url` answers `status` (default 200). */
export async function waitForHttp(url: string, status = 200, timeoutMs = 45_000): Promise<void> {
  await waitFor(`${url} → ${status}`, async () => {
    const res = await fetch(url).catch(() => null);
    if (!res) return false;
    await res.arrayBuffer();
    return res.status === status;
  }, timeoutMs, 50);
}
