/**
 * The default number of serving threads: one per CPU the node may use, and no more than its memory
 * limit holds. In a container `os.cpus()` reports the host's cores (64 on a big host), while the
 * cgroup may allow one CPU and 512 MiB: 64 threads of ~25 MB each would be killed for memory.
 * Reads cgroup v2 (`cpu.max`, `memory.max`, from the process's own cgroup up to the root, the
 * tightest level wins) and falls back to cgroup v1 (`cpu.cfs_quota_us`, `memory.limit_in_bytes`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';

/** Memory one serving thread takes (heap, uWS, caches), measured ≈ 25 MB. */
export const WORKER_BYTES = 25 * 1024 * 1024;
/** Memory the rest of the node takes: supervisor, sync thread, the Node binary, the click backlog (64 MiB by default). */
export const NODE_BASE_BYTES = 192 * 1024 * 1024;

export interface CgroupLimits {
  /** CPUs the quota allows (rounded up), or null when unlimited. */
  cpus: number | null;
  memoryBytes: number | null;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/** `cpu.max`: "max 100000" or "<quota> <period>". */
function cpusFromCpuMax(text: string | null): number | null {
  const m = text === null ? null : /^(\d+)\s+(\d+)$/.exec(text);
  return m && Number(m[2]) > 0 ? Math.max(1, Math.ceil(Number(m[1]) / Number(m[2]))) : null;
}

/** `memory.max`: "max" or bytes; v1's "unlimited" is a huge number (above 2^60). */
function bytesFromLimit(text: string | null): number | null {
  if (text === null || !/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n > 0 && n < 2 ** 60 ? n : null;
}

/** The process's path in the cgroup hierarchy for `controller` (v2: the "0::" line). */
function cgroupPath(procSelfCgroup: string, controller: string | null): string | null {
  for (const line of (read(procSelfCgroup) ?? '').split('\n')) {
    const [id, controllers, path] = line.split(':', 3) as [string, string?, string?];
    if (path === undefined) continue;
    if (controller === null ? id === '0' && controllers === '' : controllers?.split(',').includes(controller)) return path;
  }
  return null;
}

/** The directories from the process's cgroup up to `mount` (just `mount` when the path is unknown or not visible, as in a container). */
function levels(mount: string, path: string | null): string[] {
  let dir = path === null ? mount : join(mount, path);
  if (!existsSync(dir)) dir = mount;
  const out = [dir];
  while (dir !== mount && dir.startsWith(mount)) {
    dir = dirname(dir);
    out.push(dir);
  }
  return out;
}

/** The CPU and memory limits of this process's cgroup; `root` and `procSelfCgroup` are for tests. */
export function readCgroupLimits(root = '/sys/fs/cgroup', procSelfCgroup = '/proc/self/cgroup'): CgroupLimits {
  if (existsSync(join(root, 'cgroup.controllers'))) {
    let cpus: number | null = null;
    let memoryBytes: number | null = null;
    for (const dir of levels(root, cgroupPath(procSelfCgroup, null))) {
      cpus = minOf(cpus, cpusFromCpuMax(read(join(dir, 'cpu.max'))));
      memoryBytes = minOf(memoryBytes, bytesFromLimit(read(join(dir, 'memory.max'))));
    }
    return { cpus, memoryBytes };
  }
  // cgroup v1: one hierarchy per controller
  let cpus: number | null = null;
  const cpuMount = [join(root, 'cpu,cpuacct'), join(root, 'cpu')].find(existsSync);
  if (cpuMount) {
    for (const dir of levels(cpuMount, cgroupPath(procSelfCgroup, 'cpu'))) {
      const quota = read(join(dir, 'cpu.cfs_quota_us'));
      const period = read(join(dir, 'cpu.cfs_period_us'));
      if (quota !== null && period !== null && !quota.startsWith('-')) cpus = minOf(cpus, cpusFromCpuMax(`${quota} ${period}`));
    }
  }
  let memoryBytes: number | null = null;
  const memMount = join(root, 'memory');
  if (existsSync(memMount)) {
    for (const dir of levels(memMount, cgroupPath(procSelfCgroup, 'memory'))) {
      memoryBytes = minOf(memoryBytes, bytesFromLimit(read(join(dir, 'memory.limit_in_bytes'))));
    }
  }
  return { cpus, memoryBytes };
}

/** WORKERS when unset: the CPUs the node may use, capped by what its memory limit holds, at least 1. */
export function defaultWorkers(cores = availableParallelism(), limits: CgroupLimits = readCgroupLimits()): number {
  let n = cores;
  if (limits.cpus !== null) n = Math.min(n, limits.cpus);
  if (limits.memoryBytes !== null) n = Math.min(n, Math.floor((limits.memoryBytes - NODE_BASE_BYTES) / WORKER_BYTES));
  return Math.max(1, n);
}
