/**
 * Which cores the server and the load generator run on. With at least two cores and `taskset`
 * installed, the server gets the last core and the client the first, so neither steals the other's
 * CPU (and the server's CPU time is its own work). BENCH_SERVER_CPUS / BENCH_CLIENT_CPUS override
 * (taskset lists, e.g. `2-3`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export interface CpuPlan {
  server: string | null;
  client: string | null;
  /** Why there is no pinning, when there is none. */
  note: string | null;
}

let tasksetPresent: boolean | null = null;

function hasTaskset(): boolean {
  if (tasksetPresent === null) tasksetPresent = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
  return tasksetPresent;
}

export function cpuPlan(env: Record<string, string | undefined> = process.env): CpuPlan {
  const cores = availableParallelism();
  if (!hasTaskset()) return { server: null, client: null, note: 'taskset not found: server and client not pinned' };
  if (env.BENCH_SERVER_CPUS || env.BENCH_CLIENT_CPUS) {
    return { server: env.BENCH_SERVER_CPUS ?? null, client: env.BENCH_CLIENT_CPUS ?? null, note: null };
  }
  if (cores < 2) return { server: null, client: null, note: `${cores} core: server and client share it` };
  return { server: String(cores - 1), client: '0', note: null };
}

/** `[cmd, args]` prefixed with `taskset -c <cpus>` when `cpus` is set. */
export function pinned(cmd: string, args: string[], cpus: string | null): [string, string[]] {
  return cpus === null ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
}

/** Pins every thread of a running process (and the threads it starts later). */
export function pinPid(pid: number, cpus: string | null): void {
  if (cpus === null) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * Niceness for fixed-rate (latency) runs: BENCH_LATENCY_NICE (e.g. `-10`, needs root) gives the
 * server and the generator priority over other work on a shared machine for the duration of those
 * runs only, so their latency is the server's and not its neighbours'. 0 (the default): off.
 */
export function latencyNice(env: Record<string, string | undefined> = process.env): number {
  const n = Number(env.BENCH_LATENCY_NICE ?? 0);
  return Number.isInteger(n) && n >= -20 && n <= 19 ? n : 0;
}

/** Sets the niceness of every thread of `pids` (nice is per thread on Linux). */
export function setNice(pids: readonly number[], nice: number): void {
  const tids: string[] = [];
  for (const pid of pids) {
    try {
      tids.push(...readdirSync(`/proc/${pid}/task`));
    } catch {
      // gone
    }
  }
  if (tids.length > 0) spawnSync('renice', ['-n', String(nice), '-p', ...tids], { stdio: 'ignore' });
}
