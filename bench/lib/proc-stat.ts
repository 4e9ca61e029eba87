/**
 * What a process costs, read from /proc (Linux): CPU time (utime + stime of every thread, from
 * /proc/<pid>/stat, in clock ticks) and resident memory (VmRSS from /proc/<pid>/status).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

/** USER_HZ (`getconf CLK_TCK`, 100 on Linux almost everywhere). */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Parses the text of /proc/<pid>/stat into utime + stime ticks (the name may hold spaces and parens). */
export function parseStatTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('malformed /proc/<pid>/stat');
  // after ") ": field 3 (state) is index 0, so utime (field 14) is index 11 and stime (15) index 12
  const fields = stat.slice(close + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc/<pid>/stat');
  return utime + stime;
}

/** CPU seconds `pid` has used so far (all its threads, user + system). */
export function cpuSecondsOf(pid: number): number {
  return parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'latin1')) / clockTicksPerSecond();
}

/** Sum over `pids`; a process that is gone counts 0 (callers compare before/after of live servers). */
export function cpuSecondsOfAll(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuSecondsOf(pid);
    } catch {
      // exited
    }
  }
  return total;
}

/** Resident set size in bytes (VmRSS), or NaN when the process is gone. */
export function rssBytesOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface RssBreakdown {
  total: number;
  /** Heap and native allocations: what a process really holds. */
  anon: number;
  /** Pages of mapped files (LMDB map, the node binary): page cache the kernel can reclaim and share. */
  file: number;
  shmem: number;
}

/** VmRSS split into RssAnon / RssFile / RssShmem (bytes); NaNs when the process is gone. */
export function rssBreakdownOf(pid: number): RssBreakdown {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'latin1');
    const kb = (field: string) => {
      const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : NaN;
    };
    return { total: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') };
  } catch {
    return { total: NaN, anon: NaN, file: NaN, shmem: NaN };
  }
}

/** The processes' direct children (nginx: the master's workers). */
export function childPidsOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const tid of readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/)) {
      if (tid) out.push(Number(tid));
    }
    return out;
  } catch {
    return [];
  }
}

/** Resident bytes of the mappings of files under `dirPrefix` (e.g. the LMDB map), from /proc/<pid>/smaps. */
export function mappedRssOf(pid: number, dirPrefix: string): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  } catch {
    return NaN;
  }
  let inside = false;
  let total = 0;
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const path = line.split(/\s+/).slice(5).join(' ');
      inside = path.startsWith(dirPrefix);
    } else if (inside && line.startsWith('Rss:')) {
      total += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
    }
  }
  return total;
}
