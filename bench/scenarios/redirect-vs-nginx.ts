/**
 * `redirect-vs-nginx`: our node and nginx side by side in the same run, on the same core, with
 * the same client and the same keys. nginx (the Debian package) holds a `map` of the same 1 M
 * links (`$host$uri` → destination) and answers `return 302`, one worker process; a second nginx
 * also writes a buffered access log with the fields a click keeps (the honest comparison for a
 * server that records every click). Bare uWebSockets.js + one LMDB lookup
 * (bench/lib/bare-redirect-server.ts) shows the floor our stack can reach, and a second node with
 * CLICK_CAPTURE=false what the node costs without clicks. They are measured in alternating rounds;
 * the targets are ratios: design §5 (node CPU per redirect ≤ 1.0 × nginx's without pipelining,
 * ≤ 0.5 × with pipelining 16) and issue 13 (≤ 1.3 × the floor and × nginx with its access log
 * without pipelining, ≤ 2.0 × the floor with pipelining 16, capture off ≤ 1.1 × the floor; at a
 * fixed 10 000 req/s p99 ≤ 1.5 × nginx's and p99.9 ≤ 5 ms). The CPU comparison is repeated with
 * autocannon as the client, and on two threads: a node with WORKERS=2 and nginx with
 * worker_processes 2, neither pinned (the generator shares the cores).
 *
 * Without nginx installed the scenario is skipped with the command that installs it.
 * Run alone: `npm run bench -- redirect-vs-nginx [--quick]`.
 */
import { freePort } from '../../shared/testing/index.js';
import { startBareRedirect } from '../lib/bare-redirect.js';
import { BenchContext } from '../lib/bench-context.js';
import { cpuPlan } from '../lib/cpu-pin.js';
import type { LoadResult, PathSet } from '../lib/http-load.js';
import { httpGet } from '../lib/http-probe.js';
import { plainDestination } from '../lib/link-dataset.js';
import { latencyNiceNotes, loadRow, measureInterleaved, ratio, worstWindowsNote, type RunSpec, type ServerUnderTest } from '../lib/measure.js';
import { findNginx, startNginx, writeNginxMap } from '../lib/nginx.js';
import { metricValue, sleep } from '../lib/http-probe.js';
import { startBenchNode, type BenchNode, type RedirectFixture } from '../lib/bench-context.js';
import { rssBytesOf } from '../lib/proc-stat.js';
import type { ScenarioOptions, ScenarioResult } from '../lib/scenario.js';

const CPU_P1 = 'node / nginx CPU per redirect, no pipelining';
const CPU_P16 = 'node / nginx CPU per redirect, pipelining 16';
const FLOOR_P1 = 'node / bare uWS + LMDB CPU per redirect, no pipelining';
const FLOOR_P16 = 'node / bare uWS + LMDB CPU per redirect, pipelining 16';
const LOG_P1 = 'node / nginx with access log CPU per redirect, no pipelining';
const OFF_P1 = 'node without click capture / bare uWS + LMDB CPU per redirect, no pipelining';
const P99 = 'node / nginx p99 at the fixed offered rate';
const P999 = 'node p99.9 at the fixed offered rate (ms)';
const TWO = 'two threads: node (WORKERS=2) / nginx (worker_processes 2) CPU per redirect, no pipelining';
const MB = 1024 * 1024;

/** Another node over the fixture's NATS bucket, with its own LMDB, once it holds every link. */
async function extraNode(ctx: BenchContext, fx: RedirectFixture, name: string, cpus: string | null, env: Record<string, string>, dist?: string): Promise<BenchNode> {
  const node = await startBenchNode({ natsUrl: fx.natsUrl, prefix: fx.prefix, lmdbPath: ctx.scratch(name), cpus, env, readyTimeoutMs: 900_000, ...(dist ? { dist } : {}) });
  try {
    for (let i = 0; ; i++) {
      const links = metricValue(await node.metrics(), 'linkplane_node_links');
      if (links >= fx.count + fx.ruleCount) return node;
      if (i >= 600) throw new Error(`${name}: holds ${links} links, expected ${fx.count + fx.ruleCount}`);
      await sleep(100);
    }
  } catch (err) {
    await node.stop();
    throw err;
  }
}

export async function run(opts: ScenarioOptions): Promise<ScenarioResult> {
  const nginxBin = findNginx();
  if (!nginxBin) {
    const reason = 'nginx is not installed (Debian/Ubuntu: `apt-get install -y nginx`)';
    return { rows: [], targets: [], notes: [`skipped: ${reason}`], skipped: [{ name: CPU_P1, reason }, { name: CPU_P16, reason }] };
  }
  const own = opts.context ? null : new BenchContext();
  const ctx = opts.context ?? own!;
  const stops: (() => Promise<void>)[] = [];
  try {
    const fx = await ctx.redirectFixture(opts.quick);
    const plan = cpuPlan();
    const entries = function* () {
      for (let i = 0; i < fx.plainPaths.length; i++) yield [fx.plainPaths[i]!, plainDestination(i)] as [string, string];
    };
    const dir = ctx.scratch('nginx');
    const tMap = performance.now();
    const mapEntries = await writeNginxMap(dir, fx.host, entries());
    const mapSeconds = (performance.now() - tMap) / 1000;
    const nginx = await startNginx({ nginx: nginxBin, dir, port: await freePort(), entries: mapEntries, host: fx.host, probePath: fx.plainPaths[0]!, cpus: plan.server });
    stops.push(() => nginx.stop());
    const mapFile = `${dir}/links.map`;
    const nginxLog = await startNginx({
      nginx: nginxBin, dir: ctx.scratch('nginx-log'), port: await freePort(), entries: mapEntries, host: fx.host, probePath: fx.plainPaths[0]!, cpus: plan.server,
      variant: { mapFile, accessLog: true },
    });
    stops.push(() => nginxLog.stop());
    const nginx2 = await startNginx({
      nginx: nginxBin, dir: ctx.scratch('nginx-2'), port: await freePort(), entries: mapEntries, host: fx.host, probePath: fx.plainPaths[0]!, cpus: null,
      variant: { mapFile, workers: 2 },
    });
    stops.push(() => nginx2.stop());
    const bare = await startBareRedirect({ dir: ctx.scratch('bare'), host: fx.host, entries: entries(), probePath: fx.plainPaths[0]!, cpus: plan.server });
    stops.push(() => bare.stop());
    const off = await extraNode(ctx, fx, 'node-off', plan.server, { CLICK_CAPTURE: 'false' });
    stops.push(() => off.stop());
    const two = await extraNode(ctx, fx, 'node-2', null, { WORKERS: '2' });
    stops.push(() => two.stop());
    // BENCH_BASELINE_DIST=<another build's dist>: that build's node measured in the same rounds (before/after)
    const baseDist = process.env.BENCH_BASELINE_DIST;
    const base = baseDist ? await extraNode(ctx, fx, 'node-base', plan.server, {}, baseDist) : null;
    if (base) stops.push(() => base.stop());
    const nodeBase: ServerUnderTest | null = base && { name: 'node, baseline build', port: base.port, pids: () => [base.pid] };

    const node: ServerUnderTest = { name: 'node', port: fx.node.port, pids: () => [fx.node.pid] };
    const nodeOff: ServerUnderTest = { name: 'node, capture off', port: off.port, pids: () => [off.pid] };
    const ngx: ServerUnderTest = { name: 'nginx', port: nginx.port, pids: () => nginx.pids() };
    const ngxLog: ServerUnderTest = { name: 'nginx + access log', port: nginxLog.port, pids: () => nginxLog.pids() };
    const floor: ServerUnderTest = { name: 'bare uWS + LMDB', port: bare.port, pids: () => [bare.proc.pid] };
    const node2: ServerUnderTest = { name: 'node, WORKERS=2', port: two.port, pids: () => [two.pid] };
    const ngx2: ServerUnderTest = { name: 'nginx, 2 workers', port: nginx2.port, pids: () => nginx2.pids() };

    // same keys, same answers: check a sample before measuring anything
    for (const i of [0, 1, Math.floor(fx.count / 2), fx.count - 1]) {
      const path = `/${fx.plainPaths[i]!}`;
      for (const s of [node, nodeOff, ngx, ngxLog, floor, node2, ngx2, ...(nodeBase ? [nodeBase] : [])]) {
        const r = await httpGet({ port: s.port, path, host: fx.host });
        if (r.status !== 302 || r.headers.location !== plainDestination(i)) {
          throw new Error(`${s.name} answers ${path} with ${r.status} ${String(r.headers.location)}, expected 302 ${plainDestination(i)}`);
        }
      }
    }

    // quick: a warm-up long enough for the JIT (a 300 ms one measured the compiler: 110–170 µs per redirect)
    const timing = opts.quick ? { warmupMs: 1500, durationMs: 1000 } : { warmupMs: 2000, durationMs: 8000 };
    const rounds = opts.quick ? 1 : 4;
    const plain: PathSet = { host: fx.host, paths: fx.plainPaths, headerSets: fx.headerSets };
    const closed = (pipelining: number): RunSpec => ({ ...timing, connections: 32, mode: { kind: 'closed', pipelining }, requests: [], pathSet: plain, expect: [302] });
    const rate = opts.quick ? 2000 : 10_000;
    const open: RunSpec = {
      warmupMs: opts.quick ? 300 : 2000,
      durationMs: opts.quick ? 2000 : 20_000,
      connections: 64,
      mode: { kind: 'open', rate },
      requests: [],
      pathSet: plain,
      expect: [302],
    };
    const three = (spec: RunSpec) => [{ server: node, spec }, { server: ngx, spec }, { server: floor, spec }];
    const withBase = (spec: RunSpec) => (nodeBase ? [{ server: nodeBase, spec }] : []);
    const five = (spec: RunSpec) => [...three(spec), { server: nodeOff, spec }, { server: ngxLog, spec }, ...withBase(spec)];
    const [n1, x1, b1, o1, l1, base1] = await measureInterleaved(five(closed(1)), rounds);
    const [n16, x16, b16, o16, l16, base16] = await measureInterleaved(five(closed(16)), rounds);
    const [nf, xf, bf, basef] = await measureInterleaved([...three(open), ...withBase(open)], opts.quick ? 1 : 2);
    const [t1, tx1] = await measureInterleaved([{ server: node2, spec: closed(1) }, { server: ngx2, spec: closed(1) }], opts.quick ? 1 : 2);
    // the same comparison with autocannon as the client: the ratios should not depend on the generator
    const ac = (pipelining: number): RunSpec => ({ ...closed(pipelining), client: 'autocannon', durationMs: Math.round(timing.durationMs / 2) });
    const [an1, ax1] = await measureInterleaved([{ server: node, spec: ac(1) }, { server: ngx, spec: ac(1) }], opts.quick ? 1 : 2);
    const [an16, ax16] = await measureInterleaved([{ server: node, spec: ac(16) }, { server: ngx, spec: ac(16) }], opts.quick ? 1 : 2);

    const label = `random keys over ${fx.count.toLocaleString('en-US')} links`;
    const triple = (l: string, n: LoadResult, x: LoadResult, b: LoadResult) => [loadRow(l, 'node', n), loadRow(l, 'nginx', x), loadRow(l, 'bare uWS + LMDB', b)];
    const quint = (l: string, n: LoadResult, x: LoadResult, b: LoadResult, o: LoadResult, g: LoadResult) => [
      loadRow(l, 'node', n), loadRow(l, 'node, capture off', o), loadRow(l, 'nginx', x), loadRow(l, 'nginx + access log', g), loadRow(l, 'bare uWS + LMDB', b),
    ];
    const rows: Record<string, number | string>[] = [
      ...quint(label, n1!, x1!, b1!, o1!, l1!),
      ...quint(label, n16!, x16!, b16!, o16!, l16!),
      ...triple(`${label}, fixed rate`, nf!, xf!, bf!),
      loadRow(`${label}, two threads, unpinned`, 'node, WORKERS=2', t1!), loadRow(`${label}, two threads, unpinned`, 'nginx, 2 workers', tx1!),
      ...(base1 && base16 && basef
        ? [loadRow(label, 'node, baseline build', base1), loadRow(label, 'node, baseline build', base16), loadRow(`${label}, fixed rate`, 'node, baseline build', basef)]
        : []),
      loadRow(`${label}, autocannon client`, 'node', an1!), loadRow(`${label}, autocannon client`, 'nginx', ax1!),
      loadRow(`${label}, autocannon client`, 'node', an16!), loadRow(`${label}, autocannon client`, 'nginx', ax16!),
    ];
    const cpu1 = ratio(n1!.serverCpuUsPerRequest, x1!.serverCpuUsPerRequest);
    const cpu16 = ratio(n16!.serverCpuUsPerRequest, x16!.serverCpuUsPerRequest);
    const floor1 = ratio(n1!.serverCpuUsPerRequest, b1!.serverCpuUsPerRequest);
    const floor16 = ratio(n16!.serverCpuUsPerRequest, b16!.serverCpuUsPerRequest);
    const log1 = ratio(n1!.serverCpuUsPerRequest, l1!.serverCpuUsPerRequest);
    const off1 = ratio(o1!.serverCpuUsPerRequest, b1!.serverCpuUsPerRequest);
    const two1 = ratio(t1!.serverCpuUsPerRequest, tx1!.serverCpuUsPerRequest);
    const p99 = ratio(nf!.latencyUs.p99, xf!.latencyUs.p99);
    const p999 = Math.round(nf!.latencyUs.p999) / 1000;
    const nginxRss = nginx.pids().reduce((s, pid) => s + (rssBytesOf(pid) || 0), 0);
    rows.push(
      { case: CPU_P1, value: cpu1 },
      { case: CPU_P16, value: cpu16 },
      { case: `node / nginx p99 at ${rate} req/s offered`, value: p99 },
      { case: `${CPU_P1} (autocannon client)`, value: ratio(an1!.serverCpuUsPerRequest, ax1!.serverCpuUsPerRequest) },
      { case: `${CPU_P16} (autocannon client)`, value: ratio(an16!.serverCpuUsPerRequest, ax16!.serverCpuUsPerRequest) },
      { case: FLOOR_P1, value: floor1 },
      { case: FLOOR_P16, value: floor16 },
      { case: LOG_P1, value: log1 },
      { case: 'node / nginx with access log CPU per redirect, pipelining 16', value: ratio(n16!.serverCpuUsPerRequest, l16!.serverCpuUsPerRequest) },
      { case: OFF_P1, value: off1 },
      { case: 'node without click capture / bare uWS + LMDB CPU per redirect, pipelining 16', value: ratio(o16!.serverCpuUsPerRequest, b16!.serverCpuUsPerRequest) },
      { case: 'nginx with access log / nginx CPU per redirect, no pipelining', value: ratio(l1!.serverCpuUsPerRequest, x1!.serverCpuUsPerRequest) },
      { case: TWO, value: two1 },
      ...(base1 && base16
        ? [
          { case: 'baseline build: node / bare uWS + LMDB CPU per redirect, no pipelining', value: ratio(base1.serverCpuUsPerRequest, b1!.serverCpuUsPerRequest) },
          { case: 'baseline build: node / bare uWS + LMDB CPU per redirect, pipelining 16', value: ratio(base16.serverCpuUsPerRequest, b16!.serverCpuUsPerRequest) },
          { case: 'this build / baseline build CPU per redirect, no pipelining', value: ratio(n1!.serverCpuUsPerRequest, base1.serverCpuUsPerRequest) },
          { case: 'this build / baseline build CPU per redirect, pipelining 16', value: ratio(n16!.serverCpuUsPerRequest, base16.serverCpuUsPerRequest) },
        ]
        : []),
      { case: 'nginx: write the map file (s)', value: Math.round(mapSeconds * 10) / 10 },
      { case: 'nginx: start with the map → first 302 (s)', value: Math.round(nginx.startSeconds * 10) / 10 },
      { case: 'bare server: its LMDB written in one transaction (s)', value: Math.round(bare.writeSeconds * 10) / 10 },
      { case: 'RSS (MB): node / nginx master + worker / bare', value: `${Math.round(fx.node.rssBytes() / MB)} / ${Math.round(nginxRss / MB)} / ${Math.round(rssBytesOf(bare.proc.pid) / MB)}` },
    );
    const errors = [n1!, x1!, b1!, o1!, l1!, n16!, x16!, b16!, o16!, l16!, nf!, xf!, bf!, t1!, tx1!, an1!, ax1!, an16!, ax16!].reduce((n, r) => n + r.errors + r.timeouts + r.unexpected, 0);
    return {
      rows,
      machine: { nginx: nginxBin.version },
      notes: [
        ...latencyNiceNotes(),
        worstWindowsNote(`node at ${rate} req/s`, nf!),
        worstWindowsNote(`nginx at ${rate} req/s`, xf!),
        worstWindowsNote(`bare uWS + LMDB at ${rate} req/s`, bf!),
        `nginx + access log: the same, writing each request to an access log with buffer=64k in a format with the fields a click keeps (${'`'}$msec $remote_addr $http_x_forwarded_for $host $uri $args $status $lp_destination $http_user_agent $http_referer $http_accept_language${'`'})`,
        'node, capture off: a second node over the same bucket with CLICK_CAPTURE=false; two threads: a third node with WORKERS=2 and nginx with worker_processes 2, both unpinned (the generator stays on its CPU, sharing it)',
        `nginx ${nginxBin.version}: worker_processes 1, access_log off, keepalive_requests 1e9, map_hash_max_size sized to the map; pinned like the node (CPU ${plan.server ?? 'not pinned'}); CPU counted for master + worker`,
        'bare uWS + LMDB: uWebSockets.js on the main thread, one LMDB get of host + url, 302 with the stored destination (no rules, metrics, clicks or fallback pages): the floor of this stack',
        'nginx answers 302 with its small HTML body; the node and the bare server with an empty body',
        `CPU ratios compare ${rounds} alternating rounds each (same client, same keys, same header sets); the autocannon rows repeat the comparison with autocannon (1 000 sampled keys per connection) as a cross-check of the client`,
      ],
      targets: [
        { name: CPU_P1, value: cpu1, target: 1.0, op: '<=' },
        { name: CPU_P16, value: cpu16, target: 0.5, op: '<=' },
        { name: FLOOR_P1, value: floor1, target: 1.3, op: '<=' },
        { name: FLOOR_P16, value: floor16, target: 2.0, op: '<=' },
        { name: LOG_P1, value: log1, target: 1.3, op: '<=' },
        { name: OFF_P1, value: off1, target: 1.1, op: '<=' },
        { name: P99, value: p99, target: 1.5, op: '<=' },
        { name: P999, value: p999, target: 5, op: '<=' },
        { name: 'errors + unexpected statuses (node and nginx)', value: errors, target: 0, op: '<=' },
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await own?.close();
  }
}
