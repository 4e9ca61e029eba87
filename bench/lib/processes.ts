/**
 * Processes a scenario starts: the compiled planes (`dist/control-plane/main.js`,
 * `dist/data-plane/main.js`), nginx, a private nats-server. Each one optionally pinned with
 * taskset, its output kept (last lines) for error messages, stopped with SIGTERM (SIGKILL after a
 * grace period). Every started process is remembered so `killAll()` can end them when the run is
 * interrupted.
 */
import { NODE_START_ENV, NODE_START_FLAGS } from '../../data-plane/start-flags.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinned } from './cpu-pin.js';

/** The checkout: the first directory above this file holding package.json (works from bench/ and dist/bench/). */
export const REPO_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
})();

export interface Proc {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Last output lines (stdout + stderr). */
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<Proc>();
const KEEP_LINES = 200;

export function startProc(name: string, cmd: string, args: string[], opts: { env?: Record<string, string>; cpus?: string | null; cwd?: string } = {}): Proc {
  const [c, a] = pinned(cmd, args, opts.cpus ?? null);
  const child = spawn(c, a, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${cmd})`);
  const output: string[] = [];
  const onData = (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (!line) continue;
      output.push(line);
      if (output.length > KEEP_LINES) output.shift();
      if (process.env.BENCH_ECHO) process.stderr.write(`[${name}] ${line}\n`);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const proc: Proc = {
    name,
    pid: child.pid,
    child,
    output,
    exited,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop(graceMs = 10_000) {
      if (proc.alive()) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      live.delete(proc);
    },
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

/** The SECRETS_KEY of bench control planes (32 bytes, base64; sealing costs only at secret creation and claim). */
export const BENCH_SECRETS_KEY = Buffer.from('linkplane-bench-secretskey-32b!!').toString('base64');

/**
 * `node dist/<script>` (e.g. `data-plane/main.js`) with `env` on top of the current environment
 * (and SECRETS_KEY = BENCH_SECRETS_KEY unless `env` names one).
 * BENCH_NODE_ARGS adds node flags (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a plane).
 * `dist`: another build's dist directory (a baseline measured beside this one).
 */
export function startPlane(script: string, env: Record<string, string>, cpus: string | null = null, dist = join(REPO_ROOT, 'dist')): Proc {
  const file = join(dist, script);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  // the node as it is deployed (npm run data-plane, the container commands): with its start flags
  if (script === 'data-plane/main.js') extra.unshift(...NODE_START_FLAGS);
  const startEnv = script === 'data-plane/main.js' ? NODE_START_ENV : {};
  // OPS_PORT 0 unless the caller names one: planes a run starts side by side must not collide on 9080/9081
  return startProc(script.split('/')[0]!, process.execPath, [...extra, '--enable-source-maps', file], { env: { LOG_LEVEL: 'warn', SECRETS_KEY: BENCH_SECRETS_KEY, OPS_PORT: '0', ...startEnv, ...env }, cpus });
}

/** Ends every process still running (interrupted run). */
export function killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of live) {
    try {
      p.child.kill(signal);
    } catch {
      // gone
    }
  }
  live.clear();
}

export function describeExit(p: Proc): string {
  return `${p.name} (pid ${p.pid}) output:\n${p.output.slice(-30).join('\n')}`;
}
