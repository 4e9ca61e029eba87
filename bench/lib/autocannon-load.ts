/**
 * The same closed-loop measurement with autocannon's programmatic API, as a second client: a
 * ratio between two servers that holds with both generators is a property of the servers, not of
 * the client. Latencies come from autocannon's per-response times (ms, float) recorded in µs in an
 * HDR histogram (autocannon's own histogram keeps whole milliseconds). Only closed loop:
 * autocannon's rate limiting is a per-connection quota per second, not a fixed offered rate.
 */
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { newHistogram, prng, summarize, worstWindows, type LoadResult, type LoadSpec } from './http-load.js';
import { cpuSecondsOfAll } from './proc-stat.js';

/** autocannon builds every request of the list for every connection: keep the list short. */
const MAX_REQUESTS = 1000;

function requestList(spec: LoadSpec): { method: string; path: string; headers: Record<string, string>; body?: string }[] {
  const set = spec.pathSet;
  if (!set) return spec.requests.slice(0, MAX_REQUESTS).map((t) => ({ method: t.method, path: t.path, headers: t.headers ?? {}, ...(t.body ? { body: t.body } : {}) }));
  const rnd = prng(spec.seed ?? 1);
  return Array.from({ length: Math.min(MAX_REQUESTS, set.paths.length) }, () => ({
    method: 'GET',
    path: `/${set.paths[Math.floor(rnd() * set.paths.length)]!}`,
    headers: { host: set.host, ...set.headerSets[Math.floor(rnd() * set.headerSets.length)]! },
  }));
}

export async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  if (spec.mode.kind !== 'closed') throw new Error('autocannon runs closed loop only (see bench/README.md)');
  const pipelining = Math.max(1, spec.mode.pipelining);
  const base = {
    url: `http://${spec.host}:${spec.port}`,
    connections: spec.connections,
    pipelining,
    timeout: Math.ceil((spec.timeoutMs ?? 10_000) / 1000),
    requests: requestList(spec),
  };
  if (spec.warmupMs > 0) await autocannon({ ...base, duration: spec.warmupMs / 1000 });
  const hist = newHistogram();
  const statuses = new Map<number, number>();
  const expect = spec.expect ? new Set(spec.expect) : null;
  let completed = 0;
  let unexpected = 0;
  const windowMax: number[] = [];
  let t0 = 0;
  const instance = autocannon({ ...base, duration: spec.durationMs / 1000 });
  instance.on('response', (_client: unknown, status: number, _bytes: number, responseTimeMs: number) => {
    completed++;
    const us = Math.max(1, Math.round(responseTimeMs * 1000));
    hist.recordValue(us);
    const w = Math.floor((performance.now() - t0) / 100);
    if (w >= 0 && !(us <= (windowMax[w] ?? 0))) windowMax[w] = us;
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (expect && !expect.has(status)) unexpected++;
  });
  const cpu0 = spec.serverPids ? cpuSecondsOfAll(spec.serverPids) : 0;
  const client0 = process.cpuUsage();
  t0 = performance.now();
  const result = await instance;
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = spec.serverPids ? cpuSecondsOfAll(spec.serverPids) : 0;
  const client = process.cpuUsage(client0);
  const serverCpuSeconds = spec.serverPids ? cpu1 - cpu0 : null;
  return {
    mode: 'closed',
    connections: spec.connections,
    pipelining,
    rate: 0,
    seconds,
    completed,
    rps: completed / seconds,
    errors: result.errors - result.timeouts,
    timeouts: result.timeouts,
    statuses: Object.fromEntries([...statuses].map(([k, v]) => [String(k), v])),
    unexpected,
    latencyUs: summarize(hist),
    histogram: hdr.encodeIntoCompressedBase64(hist),
    serverCpuSeconds,
    serverCpuUsPerRequest: serverCpuSeconds !== null && completed > 0 ? (serverCpuSeconds * 1e6) / completed : null,
    clientCpuSeconds: (client.user + client.system) / 1e6,
    scheduleLagP99Ms: null,
    backlogAtEnd: 0,
    worstWindows: worstWindows(windowMax),
  };
}
