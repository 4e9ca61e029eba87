/**
 * The bench harness's own parts, against real things: the load generator against real HTTP
 * servers (keep-alive, pipelining, chunked bodies, a server that hangs up), /proc CPU sampling of
 * real processes, target judging with targets.json semantics, nginx with a real map (when
 * installed), and the deterministic link keys.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../shared/testing/index.js';
import { runAutocannon } from './autocannon-load.js';
import { httpGet } from './http-probe.js';
import { mergeResults, runLoad, worstWindows, type LoadSpec } from './http-load.js';
import { linkCode, plainDestination, plainPath, rulePath, unknownPath, visitorHeaderSets } from './link-dataset.js';
import { findNginx, startNginx, writeNginxMap } from './nginx.js';
import { cpuSecondsOf, mappedRssOf, parseStatTicks, rssBreakdownOf, rssBytesOf } from './proc-stat.js';
import { summaryMarkdown, type ScenarioRecord } from './results.js';
import { met } from './scenario.js';
import { groupRows, markdownTable, textTable } from './table.js';
import { judge, loadTargets, type TargetsFile } from './targets.js';

interface Counting {
  server: Server;
  port: number;
  answered: Map<number, number>;
}

/** A real HTTP server that answers by path: 302 empty, 200 with a body, 200 chunked; counts what it answered. */
async function countingServer(): Promise<Counting> {
  const answered = new Map<number, number>();
  const count = (s: number) => answered.set(s, (answered.get(s) ?? 0) + 1);
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/chunked')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('part one,');
      res.end('part two');
      count(200);
    } else if (req.url?.startsWith('/body')) {
      const body = 'x'.repeat(3000);
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
      count(200);
    } else {
      res.writeHead(302, { location: `https://example.com${req.url}`, 'content-length': 0 });
      res.end();
      count(302);
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : 0, answered };
}

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

function spec(port: number, over: Partial<LoadSpec>): LoadSpec {
  return { host: '127.0.0.1', port, connections: 4, mode: { kind: 'closed', pipelining: 1 }, warmupMs: 0, durationMs: 400, requests: [{ method: 'GET', path: '/a' }], ...over };
}

describe('load generator (closed loop)', () => {
  it('counts exactly what the server answered: content-length, empty and chunked bodies on keep-alive connections', async () => {
    const s = await countingServer();
    servers.push(s.server);
    const r = await runLoad(spec(s.port, {
      requests: [{ method: 'GET', path: '/redirect' }, { method: 'GET', path: '/body' }, { method: 'GET', path: '/chunked' }],
      expect: [200, 302],
      serverPids: [process.pid],
    }));
    const total = [...s.answered.values()].reduce((a, b) => a + b, 0);
    expect(r.errors).toBe(0);
    expect(r.timeouts).toBe(0);
    expect(r.unexpected).toBe(0);
    expect(r.completed).toBe(total);
    expect(r.statuses).toEqual({ '200': s.answered.get(200), '302': s.answered.get(302) });
    expect(r.completed).toBeGreaterThan(100);
    expect(r.latencyUs.p50).toBeGreaterThan(0);
    expect(r.latencyUs.max).toBeGreaterThanOrEqual(r.latencyUs.p99);
    // the server runs in this process: its CPU per request is measured from /proc
    expect(r.serverCpuUsPerRequest).toBeGreaterThan(0);
  });

  it('keeps 16 requests in flight per connection with pipelining and loses none', async () => {
    const s = await countingServer();
    servers.push(s.server);
    const r = await runLoad(spec(s.port, { connections: 2, mode: { kind: 'closed', pipelining: 16 }, expect: [302] }));
    expect(r.pipelining).toBe(16);
    expect(r.errors).toBe(0);
    expect(r.completed).toBe(s.answered.get(302));
    expect(r.statuses).toEqual({ '302': r.completed });
  });

  it('counts statuses it was not told to expect, and path sets build one GET per key with the Host header', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.headers.host} ${req.url} ${req.headers['x-forwarded-for']}`);
      res.writeHead(req.url === '/missing' ? 404 : 302, { 'content-length': 0 });
      res.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const r = await runLoad(spec(port, {
      connections: 1,
      requests: [],
      pathSet: { host: 'go.test.example', paths: ['k1', 'missing'], headerSets: [{ 'x-forwarded-for': '203.0.113.9' }] },
      expect: [302],
    }));
    expect(r.unexpected).toBe(r.statuses['404']);
    expect(r.unexpected).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(['go.test.example /k1 203.0.113.9', 'go.test.example /missing 203.0.113.9']));
  });

  it('counts the requests in flight on a connection the server drops as errors, and reconnects', async () => {
    let n = 0;
    const server = createServer((req, res) => {
      if (++n % 50 === 0) {
        req.socket.destroy();
        return;
      }
      res.writeHead(302, { 'content-length': 0 });
      res.end();
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const r = await runLoad(spec(port, { connections: 1, expect: [302] }));
    expect(r.errors).toBeGreaterThan(0);
    expect(r.completed).toBeGreaterThan(r.errors * 10);
    expect(r.statuses).toEqual({ '302': r.completed });
  });

  it('substitutes {seq} and {run} per request (unique bodies and idempotency keys)', async () => {
    const bodies: string[] = [];
    const keys: string[] = [];
    const server = createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        bodies.push(b);
        keys.push(String(req.headers['idempotency-key']));
        res.writeHead(201, { 'content-length': 2 });
        res.end('{}');
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const r = await runLoad(spec(port, {
      connections: 2,
      durationMs: 200,
      requests: [{ method: 'POST', path: '/v1/links', headers: { 'idempotency-key': 'k-{run}-{seq}', 'content-type': 'application/json' }, body: '{"path":"p{seq}"}' }],
      expect: [201],
    }));
    expect(r.errors).toBe(0);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(bodies.every((b) => /^\{"path":"p\d+"\}$/.test(b))).toBe(true);
  });
});

describe('autocannon as a second client', () => {
  it('measures the same closed loop through autocannon\'s programmatic API', async () => {
    const s = await countingServer();
    servers.push(s.server);
    const r = await runAutocannon(spec(s.port, {
      connections: 2,
      mode: { kind: 'closed', pipelining: 4 },
      warmupMs: 0,
      durationMs: 1000,
      requests: [],
      pathSet: { host: 'go.test.example', paths: ['a', 'b', 'c'], headerSets: [{ 'user-agent': 'bench' }] },
      expect: [302],
      serverPids: [process.pid],
    }));
    expect(r.errors).toBe(0);
    expect(r.unexpected).toBe(0);
    expect(r.pipelining).toBe(4);
    expect(r.completed).toBeGreaterThan(50);
    // requests still in flight when autocannon stops were answered but not counted
    expect(s.answered.get(302)! - r.completed).toBeGreaterThanOrEqual(0);
    expect(s.answered.get(302)! - r.completed).toBeLessThanOrEqual(2 * 4);
    expect(r.statuses).toEqual({ '302': r.completed });
    expect(r.latencyUs.p50).toBeGreaterThan(0);
    expect(r.serverCpuUsPerRequest).toBeGreaterThan(0);
  });
});

describe('load generator (open loop)', () => {
  it('offers the fixed rate whatever the server does', async () => {
    const s = await countingServer();
    servers.push(s.server);
    const r = await runLoad(spec(s.port, { connections: 8, mode: { kind: 'open', rate: 500 }, warmupMs: 200, durationMs: 2000, expect: [302] }));
    expect(r.mode).toBe('open');
    expect(r.errors).toBe(0);
    expect(r.backlogAtEnd).toBe(0);
    // 500/s for 2 s: the scheduler is timer-driven, so allow a few requests either way
    expect(r.completed).toBeGreaterThanOrEqual(980);
    expect(r.completed).toBeLessThanOrEqual(1020);
    expect(r.scheduleLagP99Ms).not.toBeNull();
    expect(r.worstWindows).toHaveLength(3);
    expect(r.worstWindows[0]!.maxMs).toBeCloseTo(r.latencyUs.max / 1000, 0);
  });

  it('finds the slowest 100 ms windows', () => {
    expect(worstWindows([500, undefined, 90_000, 1200, 3000])).toEqual([{ atS: 0.2, maxMs: 90 }, { atS: 0.4, maxMs: 3 }, { atS: 0.3, maxMs: 1.2 }]);
    expect(worstWindows([])).toEqual([]);
  });

  it('counts latency from when a request was due when every connection is busy (no coordinated omission)', async () => {
    // one connection, a server that takes 20 ms, 200 req/s offered: requests queue up client-side
    const server = createServer((_req, res) => {
      setTimeout(() => {
        res.writeHead(302, { 'content-length': 0 });
        res.end();
      }, 20);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const r = await runLoad(spec(port, { connections: 1, mode: { kind: 'open', rate: 200 }, warmupMs: 0, durationMs: 1000, timeoutMs: 20_000 }));
    // served at most ~50/s, so the queue grows and the waiting shows in the latency
    expect(r.backlogAtEnd).toBeGreaterThan(50);
    expect(r.latencyUs.max).toBeGreaterThan(200_000);
  });
});

describe('merging rounds', () => {
  it('adds counts and CPU and merges the histograms', async () => {
    const s = await countingServer();
    servers.push(s.server);
    const a = await runLoad(spec(s.port, { durationMs: 200, serverPids: [process.pid] }));
    const b = await runLoad(spec(s.port, { durationMs: 200, serverPids: [process.pid] }));
    const m = mergeResults([a, b]);
    expect(m.completed).toBe(a.completed + b.completed);
    expect(m.statuses['302']).toBe(a.completed + b.completed);
    expect(m.serverCpuSeconds).toBeCloseTo(a.serverCpuSeconds! + b.serverCpuSeconds!, 9);
    // HDR keeps 3 significant digits: the merged max is the same bucket, not necessarily the same integer
    const max = Math.max(a.latencyUs.max, b.latencyUs.max);
    expect(Math.abs(m.latencyUs.max - max) / max).toBeLessThan(0.002);
    expect(m.seconds).toBeCloseTo(a.seconds + b.seconds, 9);
  });
});

describe('/proc sampling', () => {
  it('parses utime + stime even when the process name has spaces and parentheses', () => {
    const stat = '4242 (node (bench) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 0 0 20 0 11 0 100 1000000 5000';
    expect(parseStatTicks(stat)).toBe(1234 + 567);
    expect(() => parseStatTicks('garbage')).toThrow();
  });

  it('sees CPU a real child process burns, and its RSS', () => {
    const child = spawnSync(process.execPath, ['-e', `
      const { readFileSync } = require('node:fs');
      const c = process.cpuUsage(); for (;;) { const u = process.cpuUsage(c); if (u.user + u.system >= 300000) break; }
      const [u, s] = readFileSync('/proc/self/stat', 'latin1').slice(readFileSync('/proc/self/stat', 'latin1').lastIndexOf(')') + 2).split(' ').slice(11, 13).map(Number);
      process.stdout.write(String(u + s));
    `]);
    expect(Number(child.stdout.toString())).toBeGreaterThanOrEqual(20); // ≥ 0.2 s at 100 ticks/s
    const before = cpuSecondsOf(process.pid);
    const cpu0 = process.cpuUsage();
    for (;;) {
      const used = process.cpuUsage(cpu0);
      if (used.user + used.system >= 200_000) break; // 200 ms of CPU, however busy the machine is
    }
    expect(cpuSecondsOf(process.pid) - before).toBeGreaterThanOrEqual(0.17); // 10 ms ticks
    expect(rssBytesOf(process.pid)).toBeGreaterThan(10 * 1024 * 1024);
    expect(Number.isNaN(rssBytesOf(2 ** 22 + 12345))).toBe(true);
  });
});

describe('/proc memory', () => {
  it('splits RSS and finds the resident pages of a memory-mapped LMDB store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-bench-lmdb-test-'));
    const env = open({ path: dir, cache: false, encoding: 'binary' });
    try {
      const value = Buffer.alloc(2000, 7);
      await env.transaction(() => {
        for (let i = 0; i < 5000; i++) void env.put(`k${i}`, value);
      });
      let sum = 0;
      for (let i = 0; i < 5000; i++) sum += (env.getBinary(`k${i}`) as Buffer | undefined)?.length ?? 0;
      expect(sum).toBe(5000 * 2000);
      const mapped = mappedRssOf(process.pid, dir);
      expect(mapped).toBeGreaterThan(5 * 1024 * 1024); // ~10 MB of values were read through the map
      const rss = rssBreakdownOf(process.pid);
      expect(rss.total).toBe(rss.anon + rss.file + rss.shmem);
      expect(rss.file).toBeGreaterThanOrEqual(mapped);
      expect(mappedRssOf(process.pid, '/nonexistent-dir/')).toBe(0);
    } finally {
      await env.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('targets', () => {
  const file: TargetsFile = {
    redirect: { 'p99 (ms)': { op: '<=', full: 2, quick: 20 }, 'rss (MB)': { op: '<=', full: 200, quick: 200 } },
  };

  it('targets.json wins over the scenario, quick uses the quick value, unreported targets are missed, skipped ones are not', () => {
    const full = judge('redirect', { targets: [{ name: 'p99 (ms)', value: 3, target: 99, op: '<=' }, { name: 'own', value: 5, target: 4, op: '>=' }] }, false, file);
    expect(full).toEqual([
      { name: 'p99 (ms)', value: 3, target: 2, op: '<=', verdict: 'missed', source: 'targets.json' },
      { name: 'own', value: 5, target: 4, op: '>=', verdict: 'met', source: 'scenario' },
      { name: 'rss (MB)', value: NaN, target: 200, op: '<=', verdict: 'missed', source: 'targets.json', note: 'not reported by the scenario' },
    ]);
    const quick = judge('redirect', { targets: [{ name: 'p99 (ms)', value: 3, target: 99, op: '<=' }], skipped: [{ name: 'rss (MB)', reason: 'no nginx' }] }, true, file);
    expect(quick.map((t) => [t.name, t.target, t.verdict])).toEqual([['p99 (ms)', 20, 'met'], ['rss (MB)', 200, 'skipped']]);
  });

  it('a value that could not be measured never meets a target', () => {
    expect(met({ value: NaN, target: 1, op: '<=' })).toBe(false);
    expect(met({ value: 1, target: 1, op: '<=' })).toBe(true);
    expect(met({ value: 1, target: 1, op: '>=' })).toBe(true);
  });

  it('bench/targets.json parses and holds every design §5 target', () => {
    const t = loadTargets();
    expect(t.redirect!['p99 at the fixed offered rate (ms)']).toMatchObject({ op: '<=', full: 2 });
    expect(t.redirect!['p99.9 at the fixed offered rate (ms)']).toMatchObject({ op: '<=', full: 5 });
    expect(t.redirect!['rules / plain CPU per redirect (pipelining 16)']).toMatchObject({ op: '<=', full: 1.3 });
    expect(t.redirect!['node RSS besides the LMDB map, serving the links (MB)']).toMatchObject({ op: '<=', full: 200 });
    expect(t['redirect-vs-nginx']!['node / nginx CPU per redirect, no pipelining']).toMatchObject({ op: '<=', full: 1 });
    expect(t['redirect-vs-nginx']!['node / nginx CPU per redirect, pipelining 16']).toMatchObject({ op: '<=', full: 0.5 });
    expect(t.propagation!['API 201 → first 302 p99 (ms)']).toMatchObject({ op: '<=', full: 100 });
    expect(t.api!['reads p95 (ms)']).toMatchObject({ op: '<=', full: 20 });
    expect(t.api!['creates p95 (ms)']).toMatchObject({ op: '<=', full: 50 });
    expect(t.api!['updates p95 (ms)']).toMatchObject({ op: '<=', full: 50 });
    expect(t.bulk!['first byte → all served (s)']).toMatchObject({ op: '<=', full: 60 });
    // every quick target is at least as loose as its full one
    for (const entries of Object.values(t)) {
      for (const spec of Object.values(entries)) expect(spec.op === '<=' ? spec.quick >= spec.full : spec.quick <= spec.full).toBe(true);
    }
    expect(t.clicks!['click ingest clicks/s']).toMatchObject({ op: '>=', full: 50_000 });
  });
});

describe('tables', () => {
  it('groups rows by their columns and prints aligned text and Markdown', () => {
    const rows = [{ case: 'a', 'req/s': 10 }, { case: 'bb', 'req/s': 2.5 }, { case: 'x', value: 'y|z' }];
    const groups = groupRows(rows);
    expect(groups.map((g) => g.length)).toEqual([2, 1]);
    expect(textTable(groups[0]!)).toBe('case  req/s\n----  -----\na        10\nbb      2.5');
    expect(markdownTable(groups[1]!)).toBe('| case | value |\n|---|---|\n| x | y\\|z |');
  });
});

describe('link keys', () => {
  it('are 7-character base62 codes, distinct, and the namespaces never collide', () => {
    const codes = new Set<string>();
    for (let i = 0; i < 200_000; i++) codes.add(linkCode(i));
    expect(codes.size).toBe(200_000);
    expect([...codes].every((c) => /^[0-9A-Za-z]{7}$/.test(c))).toBe(true);
    expect(plainPath(12345)).toBe(linkCode(12345));
    expect(rulePath(1)).toBe(`r-${linkCode(1)}`);
    expect(unknownPath(1)).toBe(`u-${linkCode(1)}`);
    expect(linkCode(42)).toBe(linkCode(42));
  });

  it('visitors carry public addresses only', () => {
    const sets = visitorHeaderSets(500);
    expect(sets).toHaveLength(500);
    for (const h of sets) {
      const [a, b] = h['x-forwarded-for']!.split('.').map(Number) as [number, number];
      expect(a === 10 || a === 127 || a === 0 || a >= 224 || (a === 192 && b === 168) || (a === 172 && b >= 16 && b < 32)).toBe(false);
    }
  });
});

describe.skipIf(findNginx() === null)('nginx yardstick', () => {
  it('serves a map of links with 302 and the same Location, 404 for anything else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lp-bench-nginx-test-'));
    const nginx = findNginx()!;
    try {
      const n = await writeNginxMap(dir, 'go.test.example', (function* () {
        for (let i = 0; i < 5000; i++) yield [plainPath(i), plainDestination(i)] as [string, string];
      })());
      expect(n).toBe(5000);
      const running = await startNginx({ nginx, dir, port: await freePort(), entries: n, host: 'go.test.example', probePath: plainPath(0), cpus: null });
      try {
        const hit = await httpGet({ port: running.port, path: `/${plainPath(4321)}`, host: 'go.test.example' });
        expect(hit.status).toBe(302);
        expect(hit.headers.location).toBe(plainDestination(4321));
        expect((await httpGet({ port: running.port, path: `/${unknownPath(1)}`, host: 'go.test.example' })).status).toBe(404);
        expect((await httpGet({ port: running.port, path: `/${plainPath(1)}`, host: 'other.example' })).status).toBe(404);
        expect(running.pids()).toHaveLength(2); // master + one worker
      } finally {
        await running.stop();
      }
      expect(running.proc.alive()).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('summary.md', () => {
  const record = (scenario: string, cpuModel: string, loadAtStart: number): ScenarioRecord => ({
    scenario, quick: false, startedAt: '2026-11-27T04:00:00.000Z', seconds: 10.4,
    machine: { cores: 2, cpuModel, cpuMHz: 2000, memoryGB: 24, kernel: '6.1', node: 'v20', loadAtStart, loadAtEnd: 1, serverCpus: '1', clientCpus: '0' },
    rows: [], targets: [{ name: 'x (ms)', value: 3, target: 5, op: '<=', verdict: 'met', source: 'targets.json' }], notes: [],
  });

  it('names one machine once, and each scenario\'s machine when the result files come from several', () => {
    const one = summaryMarkdown([record('a', 'AMD EPYC', 0.5), record('b', 'AMD EPYC', 0.7)]);
    expect(one.split('\n').slice(0, 2)).toEqual([
      'Machine: 2 cores (AMD EPYC), 24 GB, Linux 6.1, Node v20; server pinned to CPU 1, load generator to CPU 0.', '',
    ]);
    expect(one).toContain('Run 2026-11-27T04:00:00.000Z, 10 s, load average 0.5 → 1.');
    const two = summaryMarkdown([record('a', 'AMD EPYC', 0.5), record('b', 'Intel Xeon', 0.7)]);
    expect(two.split('\n').slice(0, 4)).toEqual([
      "Machines (scenarios run at different times; each one's is named under its run):",
      '- 2 cores (AMD EPYC), 24 GB, Linux 6.1, Node v20; server pinned to CPU 1, load generator to CPU 0',
      '- 2 cores (Intel Xeon), 24 GB, Linux 6.1, Node v20; server pinned to CPU 1, load generator to CPU 0',
      '',
    ]);
    expect(two).toContain('Run 2026-11-27T04:00:00.000Z on Intel Xeon, 10 s, load average 0.7 → 1.');
    expect(two).toContain('| b | x (ms) | 3 | <= 5 | ✅ met |');
  });
});
