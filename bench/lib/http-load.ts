/**
 * A lean HTTP/1.1 load generator over raw keep-alive sockets, for the two kinds of run the targets
 * need:
 * - closed loop (saturation): every connection keeps `pipelining` requests in flight, a new one is
 *   written as soon as one completes (all completions of one read go out in one write). Used for
 *   server CPU per request.
 * - open loop (fixed offered rate): requests are scheduled at `rate`/s whatever the server does;
 *   one in flight per connection; a request that finds no free connection waits in a backlog and
 *   its latency counts from when it was due (no coordinated omission). Used for latency.
 *
 * Latency is recorded in microseconds in an HDR histogram (hdr-histogram-js). Server CPU time is
 * read from /proc/<pid>/stat at the exact start and end of the measured window, here in the
 * generator, so no message latency blurs the window.
 *
 * autocannon's `overallRate` is not used for fixed-rate runs: it is a per-connection quota per
 * second (connections fire closed-loop until the quota is spent, then idle), so it offers bursts,
 * and its histogram has whole milliseconds. See bench/README.md.
 */
import { connect, type Socket } from 'node:net';
import { setPriority } from 'node:os';
import * as hdr from 'hdr-histogram-js';
import { cpuSecondsOfAll } from './proc-stat.js';

export interface RequestTemplate {
  method: string;
  path: string;
  /** `host` defaults to the target address. `{seq}` and `{run}` in path, header values and body are replaced per request. */
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Many GETs in compact form (e.g. random keys over 1 M links): each request takes a random path and
 * a random header set. Cheaper to pass to the generator process than one template per path.
 */
export interface PathSet {
  host: string;
  /** Without the leading `/`. */
  paths: string[];
  headerSets: Record<string, string>[];
}

export type LoadMode = { kind: 'closed'; pipelining: number } | { kind: 'open'; rate: number };

export interface LoadSpec {
  host: string;
  port: number;
  connections: number;
  mode: LoadMode;
  warmupMs: number;
  durationMs: number;
  /** Templates to send (ignored when `pathSet` is given). */
  requests: RequestTemplate[];
  pathSet?: PathSet;
  /** Which client sends the load: this module (default) or autocannon (closed loop only, a cross-check). */
  client?: 'raw' | 'autocannon';
  /** `random` (default): each request picks a template at random (seeded); `cycle`: in order. */
  order?: 'random' | 'cycle';
  /** Statuses that count as expected; anything else counts in `unexpected`. Default: any. */
  expect?: number[];
  /** Processes whose CPU time is sampled at the start and end of the measured window. */
  serverPids?: number[];
  /** A request without an answer after this long counts as a timeout (connection reopened). */
  timeoutMs?: number;
  seed?: number;
  /** Niceness the generator gives itself before it starts (see cpu-pin.ts latencyNice). */
  nice?: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  mode: 'closed' | 'open';
  connections: number;
  pipelining: number;
  /** Offered rate (open loop), else 0. */
  rate: number;
  seconds: number;
  completed: number;
  rps: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  unexpected: number;
  /** Microseconds. */
  latencyUs: LatencySummary;
  /** The latency histogram (µs), compressed base64, so runs can be merged. */
  histogram: string;
  serverCpuSeconds: number | null;
  serverCpuUsPerRequest: number | null;
  clientCpuSeconds: number;
  /** Open loop: 99th percentile of how late the scheduler ran (ms) — the client keeping up, or not. */
  scheduleLagP99Ms: number | null;
  /** Open loop: requests still waiting for a connection when the window closed. */
  backlogAtEnd: number;
  /**
   * The three 100 ms windows (by completion time, seconds into the measured window) with the
   * slowest answer: a tail made of one stall shows here as one bad window.
   */
  worstWindows: { atS: number; maxMs: number }[];
}

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CHUNKED = /\r\ntransfer-encoding:[ \t]*chunked/i;

type ParseState = 'head' | 'body' | 'chunk-size' | 'chunk-data';

function rawRequest(t: RequestTemplate, defaultHost: string, seq: number, run: string): Buffer {
  const sub = (s: string) => (s.includes('{') ? s.replaceAll('{seq}', String(seq)).replaceAll('{run}', run) : s);
  const body = t.body === undefined ? null : Buffer.from(sub(t.body));
  let head = `${t.method} ${sub(t.path)} HTTP/1.1\r\n`;
  const headers = t.headers ?? {};
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'host')) head += `Host: ${defaultHost}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${sub(v)}\r\n`;
  if (body) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

function isDynamic(t: RequestTemplate): boolean {
  const has = (s: string | undefined) => s !== undefined && (s.includes('{seq}') || s.includes('{run}'));
  return has(t.path) || has(t.body) || Object.values(t.headers ?? {}).some(has);
}

/** Deterministic PRNG (mulberry32): the same seed picks the same keys for both servers. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { p50: NaN, p90: NaN, p95: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  return {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p95: h.getValueAtPercentile(95),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: h.mean,
  };
}

/** Adds up runs of the same kind (rounds of an interleaved comparison): counts, CPU, merged histograms. */
export function mergeResults(results: readonly LoadResult[]): LoadResult {
  const first = results[0];
  if (!first) throw new Error('nothing to merge');
  if (results.length === 1) return first;
  const hist = newHistogram();
  const statuses: Record<string, number> = {};
  let completed = 0;
  let seconds = 0;
  let errors = 0;
  let timeouts = 0;
  let unexpected = 0;
  let backlogAtEnd = 0;
  let clientCpuSeconds = 0;
  let serverCpuSeconds: number | null = 0;
  let lag: number | null = null;
  const windows: { atS: number; maxMs: number }[] = [];
  for (const r of results) {
    windows.push(...r.worstWindows);
    hist.add(hdr.decodeFromCompressedBase64(r.histogram));
    for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    completed += r.completed;
    seconds += r.seconds;
    errors += r.errors;
    timeouts += r.timeouts;
    unexpected += r.unexpected;
    backlogAtEnd += r.backlogAtEnd;
    clientCpuSeconds += r.clientCpuSeconds;
    serverCpuSeconds = serverCpuSeconds === null || r.serverCpuSeconds === null ? null : serverCpuSeconds + r.serverCpuSeconds;
    if (r.scheduleLagP99Ms !== null) lag = Math.max(lag ?? 0, r.scheduleLagP99Ms);
  }
  return {
    ...first,
    seconds,
    completed,
    rps: completed / seconds,
    errors,
    timeouts,
    statuses,
    unexpected,
    latencyUs: summarize(hist),
    histogram: hdr.encodeIntoCompressedBase64(hist),
    serverCpuSeconds,
    serverCpuUsPerRequest: serverCpuSeconds !== null && completed > 0 ? (serverCpuSeconds * 1e6) / completed : null,
    clientCpuSeconds,
    scheduleLagP99Ms: lag,
    backlogAtEnd,
    worstWindows: windows.sort((a, b) => b.maxMs - a.maxMs).slice(0, 3),
  };
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

class Connection {
  sock: Socket | null = null;
  /** Latency start times (performance.now() ms) of the requests in flight, oldest first. */
  readonly starts: number[] = [];
  /**
   * Last progress on this connection: when a request was written to an idle connection or a
   * response completed. No progress for `timeoutMs` with requests in flight is a timeout (counted
   * from the write, never from when an open-loop request was due).
   */
  oldestSentAt = 0;
  pending: Buffer | null = null;
  state: ParseState = 'head';
  left = 0;
  status = 0;
  connected = false;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.nice) setPriority(spec.nice);
  const run = Math.random().toString(36).slice(2, 10);
  const defaultHost = `${spec.host}:${spec.port}`;
  const dynamic = spec.requests.map(isDynamic);
  const prebuilt = spec.requests.map((t, i) => (dynamic[i] ? null : rawRequest(t, defaultHost, 0, run)));
  const random = prng(spec.seed ?? 1);
  const ordered = spec.order === 'cycle';
  let cursor = 0;
  let seq = 0;
  let nextRequest: () => Buffer;
  const set = spec.pathSet;
  if (set) {
    if (set.paths.length === 0 || set.headerSets.length === 0) throw new Error('empty path set');
    const blocks = set.headerSets.map((h) => `Host: ${set.host}\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    nextRequest = () => {
      const p = set.paths[ordered ? cursor++ % set.paths.length : Math.floor(random() * set.paths.length)]!;
      return Buffer.from(`GET /${p} HTTP/1.1\r\n${blocks[Math.floor(random() * blocks.length)]!}`, 'latin1');
    };
  } else {
    if (spec.requests.length === 0) throw new Error('no requests to send');
    nextRequest = () => {
      const i = ordered ? cursor++ % spec.requests.length : Math.floor(random() * spec.requests.length);
      seq++;
      return prebuilt[i] ?? rawRequest(spec.requests[i]!, defaultHost, seq, run);
    };
  }

  const expect = spec.expect ? new Set(spec.expect) : null;
  const timeoutMs = spec.timeoutMs ?? 10_000;
  const pipelining = spec.mode.kind === 'closed' ? Math.max(1, spec.mode.pipelining) : 1;
  const hist = newHistogram();
  const lagHist = newHistogram();
  const statuses = new Map<number, number>();
  let measuring = false;
  let issuing = true;
  let completed = 0;
  let errors = 0;
  let timeouts = 0;
  let unexpected = 0;
  let inflightTotal = 0;
  const conns: Connection[] = Array.from({ length: spec.connections }, () => new Connection());
  const idle: Connection[] = [];
  /** Open loop: due times of requests waiting for a free connection. */
  const backlog: number[] = [];
  let drained: (() => void) | null = null;

  const send = (c: Connection, n: number, startedAt: number) => {
    const sock = c.sock;
    if (!sock || !c.connected || n <= 0) return;
    if (c.starts.length === 0) c.oldestSentAt = performance.now();
    if (n === 1) {
      c.starts.push(startedAt);
      inflightTotal++;
      sock.write(nextRequest());
      return;
    }
    sock.cork();
    for (let i = 0; i < n; i++) {
      c.starts.push(startedAt);
      inflightTotal++;
      sock.write(nextRequest());
    }
    sock.uncork();
  };

  let measureStartedAt = 0;
  const windowMax: number[] = [];
  const onComplete = (c: Connection, now: number): void => {
    const started = c.starts.shift();
    inflightTotal--;
    c.oldestSentAt = now;
    if (started === undefined) return;
    if (measuring) {
      completed++;
      const us = Math.max(1, Math.round((now - started) * 1000));
      hist.recordValue(us);
      const w = Math.floor((now - measureStartedAt) / 100);
      if (w >= 0 && !(us <= (windowMax[w] ?? 0))) windowMax[w] = us;
      statuses.set(c.status, (statuses.get(c.status) ?? 0) + 1);
      if (expect && !expect.has(c.status)) unexpected++;
    }
  };

  const afterCompletions = (c: Connection, done: number, now: number) => {
    if (!issuing) {
      if (inflightTotal === 0 && drained) drained();
      return;
    }
    if (spec.mode.kind === 'closed') {
      send(c, done, now);
    } else {
      // one in flight per connection: take a waiting request or become idle
      if (backlog.length > 0) send(c, 1, backlog.shift()!);
      else idle.push(c);
    }
  };

  const onData = (c: Connection, chunk: Buffer): void => {
    let buf = chunk;
    if (c.pending) {
      buf = Buffer.concat([c.pending, chunk]);
      c.pending = null;
    }
    const n = buf.length;
    let pos = 0;
    let done = 0;
    const now = performance.now();
    while (pos < n) {
      if (c.state === 'body') {
        const take = Math.min(c.left, n - pos);
        pos += take;
        c.left -= take;
        if (c.left === 0) {
          c.state = 'head';
          onComplete(c, now);
          done++;
        }
        continue;
      }
      if (c.state === 'chunk-data') {
        const take = Math.min(c.left, n - pos);
        pos += take;
        c.left -= take;
        if (c.left === 0) c.state = 'chunk-size';
        continue;
      }
      if (c.state === 'chunk-size') {
        const eol = buf.indexOf(CRLF, pos);
        if (eol < 0) break;
        const size = parseInt(buf.toString('latin1', pos, eol), 16);
        pos = eol + 2;
        if (size > 0) {
          c.state = 'chunk-data';
          c.left = size + 2;
        } else {
          // last chunk: no trailers expected, one CRLF ends the message
          c.state = 'body';
          c.left = 2;
        }
        continue;
      }
      const end = buf.indexOf(CRLFCRLF, pos);
      if (end < 0) break;
      c.status = (buf[pos + 9]! - 48) * 100 + (buf[pos + 10]! - 48) * 10 + (buf[pos + 11]! - 48);
      const head = buf.toString('latin1', pos, end + 2);
      pos = end + 4;
      if (CHUNKED.test(head)) {
        c.state = 'chunk-size';
        continue;
      }
      const m = CONTENT_LENGTH.exec(head);
      const length = m ? Number(m[1]) : 0;
      if (length > 0) {
        c.state = 'body';
        c.left = length;
      } else {
        onComplete(c, now);
        done++;
      }
    }
    if (pos < n) c.pending = buf.subarray(pos);
    if (done > 0) afterCompletions(c, done, now);
  };

  const open = (c: Connection): Promise<void> =>
    new Promise((resolveOpen) => {
      const sock = connect({ host: spec.host, port: spec.port, noDelay: true });
      c.sock = sock;
      c.connected = false;
      c.pending = null;
      c.state = 'head';
      sock.on('connect', () => {
        c.connected = true;
        resolveOpen();
      });
      sock.on('data', (d: Buffer) => onData(c, d));
      const lost = () => {
        if (c.sock !== sock) return;
        c.sock = null;
        const wasConnected = c.connected;
        c.connected = false;
        errors += c.starts.length;
        inflightTotal -= c.starts.length;
        c.starts.length = 0;
        resolveOpen();
        if (issuing) {
          if (!wasConnected) errors++;
          setTimeout(() => {
            if (!issuing) return;
            void open(c).then(() => {
              if (spec.mode.kind === 'closed') send(c, pipelining, performance.now());
              else if (backlog.length > 0) send(c, 1, backlog.shift()!);
              else idle.push(c);
            });
          }, 20);
        } else if (inflightTotal === 0 && drained) {
          drained();
        }
      };
      sock.on('error', lost);
      sock.on('close', lost);
    });

  await Promise.all(conns.map(open));
  if (conns.some((c) => !c.connected)) throw new Error(`cannot connect to ${spec.host}:${spec.port}`);

  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const c of conns) {
      if (c.starts.length > 0 && now - c.oldestSentAt > timeoutMs && c.sock) {
        timeouts += c.starts.length;
        c.sock.destroy();
      }
    }
  }, 250);

  let clientCpu0 = process.cpuUsage();
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  let ticker: NodeJS.Timeout | null = null;
  let scheduled = 0;
  let t0 = 0;
  let serverCpu0 = 0;

  if (spec.mode.kind === 'closed') {
    const now = performance.now();
    for (const c of conns) send(c, pipelining, now);
  } else {
    const rate = spec.mode.rate;
    for (const c of conns) idle.push(c);
    t0 = performance.now();
    const tick = () => {
      const now = performance.now();
      const due = Math.floor(((now - t0) * rate) / 1000);
      if (due > scheduled && measuring) lagHist.recordValue(Math.max(1, Math.round((now - (t0 + (scheduled * 1000) / rate)) * 1000)));
      while (scheduled < due && issuing) {
        scheduled++;
        const c = idle.pop();
        // latency counts from dispatch; a request that must wait for a connection counts from now
        if (c) send(c, 1, now);
        else backlog.push(now);
      }
      if (issuing) ticker = setTimeout(tick, 1);
    };
    tick();
  }

  await sleep(spec.warmupMs);
  // the measured window: counters start now, server CPU is sampled now
  serverCpu0 = spec.serverPids ? cpuSecondsOfAll(spec.serverPids) : 0;
  clientCpu0 = process.cpuUsage();
  measureStartedAt = performance.now();
  measuring = true;
  await sleep(spec.durationMs);
  issuing = false;
  if (ticker) clearTimeout(ticker);
  const backlogAtEnd = backlog.length;
  backlog.length = 0;
  if (inflightTotal > 0) {
    await Promise.race([new Promise<void>((r) => (drained = r)), sleep(Math.min(timeoutMs, 5000))]);
  }
  const measuredMs = performance.now() - measureStartedAt;
  const serverCpu1 = spec.serverPids ? cpuSecondsOfAll(spec.serverPids) : 0;
  measuring = false;
  const clientCpu = process.cpuUsage(clientCpu0);
  clearInterval(watchdog);
  for (const c of conns) c.sock?.destroy();

  const serverCpuSeconds = spec.serverPids ? serverCpu1 - serverCpu0 : null;
  return {
    mode: spec.mode.kind,
    connections: spec.connections,
    pipelining,
    rate: spec.mode.kind === 'open' ? spec.mode.rate : 0,
    seconds: measuredMs / 1000,
    completed,
    rps: completed / (measuredMs / 1000),
    errors,
    timeouts,
    statuses: Object.fromEntries([...statuses].map(([k, v]) => [String(k), v])),
    unexpected,
    latencyUs: summarize(hist),
    histogram: hdr.encodeIntoCompressedBase64(hist),
    serverCpuSeconds,
    serverCpuUsPerRequest: serverCpuSeconds !== null && completed > 0 ? (serverCpuSeconds * 1e6) / completed : null,
    clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
    scheduleLagP99Ms: spec.mode.kind === 'open' && lagHist.totalCount > 0 ? lagHist.getValueAtPercentile(99) / 1000 : null,
    backlogAtEnd,
    worstWindows: worstWindows(windowMax),
  };
}

export function worstWindows(windowMax: readonly (number | undefined)[], keep = 3): { atS: number; maxMs: number }[] {
  return windowMax
    .map((us, i) => ({ atS: i / 10, maxMs: (us ?? 0) / 1000 }))
    .filter((w) => w.maxMs > 0)
    .sort((a, b) => b.maxMs - a.maxMs)
    .slice(0, keep);
}
