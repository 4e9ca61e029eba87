/**
 * Measuring servers side by side: the same load spec against each server in turn, in short
 * alternating rounds (A B, B A, A B…) so a neighbour's burst on this shared machine lands on both
 * rather than on one, and each server's rounds are merged (counts, CPU, histograms).
 */
import { generateLoad } from './load.js';
import { mergeResults, type LoadResult, type LoadSpec } from './http-load.js';
import { cpuPlan, latencyNice, setNice } from './cpu-pin.js';

export interface ServerUnderTest {
  name: string;
  port: number;
  /** Processes whose CPU is the server's (all threads counted). */
  pids(): number[];
}

export type RunSpec = Omit<LoadSpec, 'host' | 'port' | 'serverPids'>;

export async function measure(server: ServerUnderTest, spec: RunSpec): Promise<LoadResult> {
  const nice = spec.mode.kind === 'open' ? latencyNice() : 0;
  if (nice === 0) return generateLoad({ ...spec, host: '127.0.0.1', port: server.port, serverPids: server.pids() }, cpuPlan().client);
  setNice(server.pids(), nice);
  try {
    return await generateLoad({ ...spec, nice, host: '127.0.0.1', port: server.port, serverPids: server.pids() }, cpuPlan().client);
  } finally {
    setNice(server.pids(), 0);
  }
}

export interface LoadCase {
  server: ServerUnderTest;
  spec: RunSpec;
}

/**
 * Runs the cases in `rounds` alternating rounds; each case gets `spec.durationMs / rounds` per
 * round, after its full warm-up in the first round only. Returns one merged result per case.
 */
export async function measureInterleaved(cases: readonly LoadCase[], rounds: number): Promise<LoadResult[]> {
  const per: LoadResult[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = cases.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      const { server, spec } = cases[i]!;
      const warmupMs = r === 0 ? spec.warmupMs : Math.min(spec.warmupMs, 300);
      per[i]!.push(await measure(server, { ...spec, warmupMs, durationMs: Math.round(spec.durationMs / rounds) }));
    }
  }
  return per.map((results) => mergeResults(results));
}

const ms = (us: number) => (Number.isFinite(us) ? Math.round(us) / 1000 : NaN);

/** One table row for a load run (latencies in ms, CPU in µs per request). */
export function loadRow(label: string, server: string, r: LoadResult): Record<string, number | string> {
  return {
    case: label,
    server,
    conns: r.connections,
    pipe: r.pipelining,
    offered: r.mode === 'open' ? r.rate : 'max',
    'req/s': Math.round(r.rps),
    'p50 ms': ms(r.latencyUs.p50),
    'p95 ms': ms(r.latencyUs.p95),
    'p99 ms': ms(r.latencyUs.p99),
    'p99.9 ms': ms(r.latencyUs.p999),
    'max ms': ms(r.latencyUs.max),
    errors: r.errors + r.timeouts,
    unexpected: r.unexpected,
    'cpu µs/req': r.serverCpuUsPerRequest === null ? '' : Math.round(r.serverCpuUsPerRequest * 100) / 100,
    'client cpu %': Math.round((100 * r.clientCpuSeconds) / r.seconds),
    // open loop: how late the generator's scheduler ran (p99) — a late client, not a slow server
    'sched lag ms': r.scheduleLagP99Ms === null ? '' : Math.round(r.scheduleLagP99Ms * 100) / 100,
  };
}

export const ratio = (a: number | null, b: number | null): number =>
  a === null || b === null || b === 0 ? NaN : Math.round((a / b) * 1000) / 1000;

/** A note for the result when fixed-rate runs were given priority (BENCH_LATENCY_NICE). */
export function latencyNiceNotes(): string[] {
  const n = latencyNice();
  return n === 0 ? [] : [`fixed-rate runs at nice ${n} (BENCH_LATENCY_NICE) for server and generator: priority over the machine's other work`];
}

/** "worst 100 ms windows: 12.3 s 850 ms, …" for a fixed-rate row: whether a tail is one stall or spread out. */
export function worstWindowsNote(label: string, r: LoadResult): string {
  const w = r.worstWindows.map((x) => `${Math.round(x.maxMs * 10) / 10} ms at ${x.atS.toFixed(1)} s`).join(', ');
  return `${label}: slowest answers by 100 ms window: ${w || 'none'}; generator scheduling lag p99 ${r.scheduleLagP99Ms ?? '-'} ms`;
}
