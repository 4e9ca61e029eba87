/**
 * `redirect-vs-nginx`: our node and nginx side by side in the same run, on the same core, with
 * the same client and the same keys. nginx (the Debian package) holds a `map` of the same 1 M
 * links (`$host$uri` → destination) and answers `return 302`, one worker process. A third server,
 * bare uWebSockets.js + one LMDB lookup (bench/lib/bare-redirect-server.ts), shows the floor our
 * stack can reach. They are measured in alternating rounds; the targets are ratios (design §5):
 * node CPU per redirect ≤ 1.0 × nginx's without pipelining and ≤ 0.5 × with pipelining 16. The
 * p99 ratio at a fixed 10 000 req/s is reported, and the CPU comparison is repeated with
 * autocannon as the client.
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
import { rssBytesOf } from '../lib/proc-stat.js';
import type { ScenarioOptions, ScenarioResult } from '../lib/scenario.js';

const CPU_P1 = 'node / nginx CPU per redirect, no pipelining';
const CPU_P16 = 'node / nginx CPU per redirect, pipelining 16';
const MB = 1024 * 1024;

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
    const bare = await startBareRedirect({ dir: ctx.scratch('bare'), host: fx.host, entries: entries(), probePath: fx.plainPaths[0]!, cpus: plan.server });
    stops.push(() => bare.stop());

    const node: ServerUnderTest = { name: 'node', port: fx.node.port, pids: () => [fx.node.pid] };
    const ngx: ServerUnderTest = { name: 'nginx', port: nginx.port, pids: () => nginx.pids() };
    const floor: ServerUnderTest = { name: 'bare uWS + LMDB', port: bare.port, pids: () => [bare.proc.pid] };

    // same keys, same answers: check a sample before measuring anything
    for (const i of [0, 1, Math.floor(fx.count / 2), fx.count - 1]) {
      const path = `/${fx.plainPaths[i]!}`;
      for (const s of [node, ngx, floor]) {
        const r = await httpGet({ port: s.port, path, host: fx.host });
        if (r.status !== 302 || r.headers.location !== plainDestination(i)) {
          throw new Error(`${s.name} answers ${path} with ${r.status} ${String(r.headers.location)}, expected 302 ${plainDestination(i)}`);
        }
      }
    }

    const timing = opts.quick ? { warmupMs: 300, durationMs: 1000 } : { warmupMs: 2000, durationMs: 8000 };
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
    const [n1, x1, b1] = await measureInterleaved(three(closed(1)), rounds);
    const [n16, x16, b16] = await measureInterleaved(three(closed(16)), rounds);
    const [nf, xf, bf] = await measureInterleaved(three(open), opts.quick ? 1 : 2);
    // the same comparison with autocannon as the client: the ratios should not depend on the generator
    const ac = (pipelining: number): RunSpec => ({ ...closed(pipelining), client: 'autocannon', durationMs: Math.round(timing.durationMs / 2) });
    const [an1, ax1] = await measureInterleaved([{ server: node, spec: ac(1) }, { server: ngx, spec: ac(1) }], opts.quick ? 1 : 2);
    const [an16, ax16] = await measureInterleaved([{ server: node, spec: ac(16) }, { server: ngx, spec: ac(16) }], opts.quick ? 1 : 2);

    const label = `random keys over ${fx.count.toLocaleString('en-US')} links`;
    const triple = (l: string, n: LoadResult, x: LoadResult, b: LoadResult) => [loadRow(l, 'node', n), loadRow(l, 'nginx', x), loadRow(l, 'bare uWS + LMDB', b)];
    const rows: Record<string, number | string>[] = [
      ...triple(label, n1!, x1!, b1!),
      ...triple(label, n16!, x16!, b16!),
      ...triple(`${label}, fixed rate`, nf!, xf!, bf!),
      loadRow(`${label}, autocannon client`, 'node', an1!), loadRow(`${label}, autocannon client`, 'nginx', ax1!),
      loadRow(`${label}, autocannon client`, 'node', an16!), loadRow(`${label}, autocannon client`, 'nginx', ax16!),
    ];
    const cpu1 = ratio(n1!.serverCpuUsPerRequest, x1!.serverCpuUsPerRequest);
    const cpu16 = ratio(n16!.serverCpuUsPerRequest, x16!.serverCpuUsPerRequest);
    const nginxRss = nginx.pids().reduce((s, pid) => s + (rssBytesOf(pid) || 0), 0);
    rows.push(
      { case: CPU_P1, value: cpu1 },
      { case: CPU_P16, value: cpu16 },
      { case: `node / nginx p99 at ${rate} req/s offered`, value: ratio(nf!.latencyUs.p99, xf!.latencyUs.p99) },
      { case: `${CPU_P1} (autocannon client)`, value: ratio(an1!.serverCpuUsPerRequest, ax1!.serverCpuUsPerRequest) },
      { case: `${CPU_P16} (autocannon client)`, value: ratio(an16!.serverCpuUsPerRequest, ax16!.serverCpuUsPerRequest) },
      { case: 'node / bare uWS + LMDB CPU per redirect, no pipelining', value: ratio(n1!.serverCpuUsPerRequest, b1!.serverCpuUsPerRequest) },
      { case: 'node / bare uWS + LMDB CPU per redirect, pipelining 16', value: ratio(n16!.serverCpuUsPerRequest, b16!.serverCpuUsPerRequest) },
      { case: 'nginx: write the map file (s)', value: Math.round(mapSeconds * 10) / 10 },
      { case: 'nginx: start with the map → first 302 (s)', value: Math.round(nginx.startSeconds * 10) / 10 },
      { case: 'bare server: its LMDB written in one transaction (s)', value: Math.round(bare.writeSeconds * 10) / 10 },
      { case: 'RSS (MB): node / nginx master + worker / bare', value: `${Math.round(fx.node.rssBytes() / MB)} / ${Math.round(nginxRss / MB)} / ${Math.round(rssBytesOf(bare.proc.pid) / MB)}` },
    );
    const errors = [n1!, x1!, b1!, n16!, x16!, b16!, nf!, xf!, bf!, an1!, ax1!, an16!, ax16!].reduce((n, r) => n + r.errors + r.timeouts + r.unexpected, 0);
    return {
      rows,
      machine: { nginx: nginxBin.version },
      notes: [
        ...latencyNiceNotes(),
        worstWindowsNote(`node at ${rate} req/s`, nf!),
        worstWindowsNote(`nginx at ${rate} req/s`, xf!),
        worstWindowsNote(`bare uWS + LMDB at ${rate} req/s`, bf!),
        `nginx ${nginxBin.version}: worker_processes 1, access_log off, keepalive_requests 1e9, map_hash_max_size sized to the map; pinned like the node (CPU ${plan.server ?? 'not pinned'}); CPU counted for master + worker`,
        'bare uWS + LMDB: uWebSockets.js on the main thread, one LMDB get of host + url, 302 with the stored destination (no rules, metrics, clicks or fallback pages): the floor of this stack',
        'nginx answers 302 with its small HTML body; the node and the bare server with an empty body',
        `CPU ratios compare ${rounds} alternating rounds each (same client, same keys, same header sets); the autocannon rows repeat the comparison with autocannon (1 000 sampled keys per connection) as a cross-check of the client`,
      ],
      targets: [
        { name: CPU_P1, value: cpu1, target: 1.0, op: '<=' },
        { name: CPU_P16, value: cpu16, target: 0.5, op: '<=' },
        { name: 'errors + unexpected statuses (node and nginx)', value: errors, target: 0, op: '<=' },
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await own?.close();
  }
}
