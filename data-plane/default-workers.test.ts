/** WORKERS default from cgroup limits, against fixture cgroup trees written to a temp dir. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultWorkers, readCgroupLimits } from './default-workers.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

/** A fake /sys/fs/cgroup (files relative to it) and /proc/self/cgroup. */
function fixture(files: Record<string, string>, procSelfCgroup: string): { root: string; proc: string } {
  const base = mkdtempSync(join(tmpdir(), 'lp-cgroup-'));
  roots.push(base);
  const root = join(base, 'sys-fs-cgroup');
  mkdirSync(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${text}\n`);
  }
  const proc = join(base, 'proc-self-cgroup');
  writeFileSync(proc, `${procSelfCgroup}\n`);
  return { root, proc };
}

const V2 = { 'cgroup.controllers': 'cpuset cpu io memory pids' };

describe('readCgroupLimits', () => {
  const cases: { name: string; files: Record<string, string>; proc: string; expected: { cpus: number | null; memoryBytes: number | null } }[] = [
    { name: 'v2 in a container: 2 CPUs, 512 MiB', files: { ...V2, 'cpu.max': '200000 100000', 'memory.max': String(512 * MiB) }, proc: '0::/', expected: { cpus: 2, memoryBytes: 512 * MiB } },
    { name: 'v2 unlimited', files: { ...V2, 'cpu.max': 'max 100000', 'memory.max': 'max' }, proc: '0::/', expected: { cpus: null, memoryBytes: null } },
    { name: 'v2 1.5 CPUs round up to 2', files: { ...V2, 'cpu.max': '150000 100000' }, proc: '0::/', expected: { cpus: 2, memoryBytes: null } },
    { name: 'v2 half a CPU is 1', files: { ...V2, 'cpu.max': '50000 100000' }, proc: '0::/', expected: { cpus: 1, memoryBytes: null } },
    {
      name: 'v2 nested: the tightest level wins (parent CPU, leaf memory)',
      files: { ...V2, 'kubepods/cpu.max': '100000 100000', 'kubepods/memory.max': 'max', 'kubepods/pod1/c1/cpu.max': 'max 100000', 'kubepods/pod1/c1/memory.max': String(256 * MiB) },
      proc: '0::/kubepods/pod1/c1',
      expected: { cpus: 1, memoryBytes: 256 * MiB },
    },
    { name: 'v2 host root: no limit files', files: { ...V2 }, proc: '0::/user.slice/session-1.scope', expected: { cpus: null, memoryBytes: null } },
    { name: 'v2 garbage is ignored', files: { ...V2, 'cpu.max': 'lots', 'memory.max': '-1' }, proc: '0::/', expected: { cpus: null, memoryBytes: null } },
    {
      name: 'v1: cfs quota 3 CPUs, memory unlimited (huge)',
      files: { 'cpu,cpuacct/cpu.cfs_quota_us': '300000', 'cpu,cpuacct/cpu.cfs_period_us': '100000', 'memory/memory.limit_in_bytes': '9223372036854771712' },
      proc: '4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc',
      expected: { cpus: 3, memoryBytes: null },
    },
    {
      name: 'v1: no quota (-1), 1 GiB',
      files: { 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000', 'memory/memory.limit_in_bytes': String(1024 * MiB) },
      proc: '4:memory:/\n3:cpu:/',
      expected: { cpus: null, memoryBytes: 1024 * MiB },
    },
    { name: 'no cgroup file system at all', files: {}, proc: '', expected: { cpus: null, memoryBytes: null } },
  ];
  cases.forEach(({ name, files, proc, expected }) => {
    it(name, () => {
      const f = fixture(files, proc);
      expect(readCgroupLimits(f.root, f.proc)).toEqual(expected);
    });
  });
});

describe('defaultWorkers', () => {
  const cases: [string, number, { cpus: number | null; memoryBytes: number | null }, number][] = [
    ['no limits: the cores', 8, { cpus: null, memoryBytes: null }, 8],
    ['CPU quota below the cores', 64, { cpus: 2, memoryBytes: null }, 2],
    ['512 MiB on a 64-core host: (512 − 192) / 25 = 12', 64, { cpus: null, memoryBytes: 512 * MiB }, 12],
    ['256 MiB: 2', 64, { cpus: null, memoryBytes: 256 * MiB }, 2],
    ['128 MiB: never below 1', 64, { cpus: null, memoryBytes: 128 * MiB }, 1],
    ['both: the smaller', 64, { cpus: 4, memoryBytes: 768 * MiB }, 4],
    ['cores below both', 2, { cpus: 4, memoryBytes: 4096 * MiB }, 2],
  ];
  cases.forEach(([name, cores, limits, expected]) => {
    it(name, () => expect(defaultWorkers(cores, limits)).toBe(expected));
  });
});
