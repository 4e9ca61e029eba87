/**
 * `instructions`: machine instructions per redirect, counted by valgrind's callgrind — the node
 * (click capture on and off) against the floor (bare uWS + one LMDB get, bench/lib/bare-redirect-server.ts).
 * Instruction counts do not depend on what else runs on the machine, so this is the figure for
 * hot-path decisions on a shared box; wall-clock CPU (redirect-vs-nginx) says what they are worth
 * in time (cache misses and the kernel are not counted here: the kernel's share is the same
 * sockets for both sides).
 *
 * Each server runs under `valgrind --tool=callgrind` (every thread of the process: the serving
 * thread, the main thread that reads the click ring, encodes, spools and ships, V8's helpers).
 * A warm-up lets the JIT settle, then `callgrind_control -z` zeroes the counters, a fixed number of
 * requests is sent (a few keep-alive connections, pipelining 1 or 16, random keys and visitor
 * headers), the process is given time to finish the clicks' asynchronous work (ring drain, batch,
 * spool write, ship), and `callgrind_control -d` dumps the count, divided by the requests: the
 * figure includes the timers and any JIT compilation or GC that fell in the window (an upper bound).
 * An idle window's instructions per second are reported beside it, not subtracted: measured right
 * after the warm-up they held TurboFan compiling and GC, and subtracting them put a node below its
 * floor (first run, 2026-12-03).
 *
 * Needs valgrind (`apt-get install -y valgrind`); skipped without it.
 * Run alone: `npm run bench -- instructions [--quick]`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../shared/testing/index.js';
import { NODE_START_FLAGS } from '../../data-plane/start-flags.js';
import { startBareRedirect } from '../lib/bare-redirect.js';
import { BenchContext, startBenchNode } from '../lib/bench-context.js';
import { sleep, waitForAnswer } from '../lib/http-probe.js';
import { plainDestination } from '../lib/link-dataset.js';
import { BENCH_SECRETS_KEY, REPO_ROOT, startProc, type Proc } from '../lib/processes.js';
import type { ScenarioOptions, ScenarioResult } from '../lib/scenario.js';

const FLOOR_P1 = 'instructions: node / bare uWS + LMDB per redirect, no pipelining';
const FLOOR_P16 = 'instructions: node / bare uWS + LMDB per redirect, pipelining 16';
const OFF_P1 = 'instructions: node without click capture / bare uWS + LMDB per redirect, no pipelining';

function hasValgrind(): boolean {
  return spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0;
}

interface Counted {
  proc: Proc;
  port: number;
  outDir: string;
  /** HOST in the counted process's environment. */
  host: string | undefined;
}

function valgrindArgs(outDir: string): string[] {
  return ['--tool=callgrind', `--callgrind-out-file=${join(outDir, 'cg.%p')}`, '--dump-instr=no', '--compress-strings=no'];
}

/** Total instructions of the last dump of `pid` in `dir` (the `totals:` / `summary:` line). */
function lastDumpTotal(dir: string, pid: number): number {
  const files = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`)).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));
  const f = files.at(-1);
  if (!f) throw new Error(`no callgrind dump for pid ${pid} in ${dir}`);
  const text = readFileSync(join(dir, f), 'utf8');
  const m = /^(?:totals|summary):\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${f}`);
  return Number(m[1]);
}

/**
 * The valgrind process's pid is the program's (valgrind execs in place). vgdb finds the process's
 * pipes by a name that holds $HOST as the process saw it — and the node's own HOST variable is
 * that: so callgrind_control gets the same HOST as the counted process.
 */
function control(c: Counted, flag: '-z' | '-d'): void {
  const env: Record<string, string | undefined> = { ...process.env, HOST: c.host };
  if (c.host === undefined) delete env.HOST;
  const pid = c.proc.pid;
  const out = execFileSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8', timeout: 120_000, env });
  if (!/OK/.test(out)) throw new Error(`callgrind_control ${flag} ${pid}: ${out}`);
}

/** Sends `total` GETs over `conns` keep-alive connections, `pipelining` in flight on each; resolves when all are answered. */
async function send(port: number, host: string, paths: readonly string[], headerSets: readonly Record<string, string>[], total: number, conns: number, pipelining: number, seed: number): Promise<void> {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 4_294_967_296;
  };
  const request = () => {
    const h = headerSets[Math.floor(rand() * headerSets.length)]!;
    let r = `GET /${paths[Math.floor(rand() * paths.length)]!} HTTP/1.1\r\nhost: ${host}\r\n`;
    for (const [k, v] of Object.entries(h)) r += `${k}: ${v}\r\n`;
    return `${r}\r\n`;
  };
  let left = total;
  const one = () => new Promise<void>((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let inFlight = 0;
    let buf = '';
    const fill = () => {
      let out = '';
      while (inFlight < pipelining && left > 0) {
        out += request();
        inFlight++;
        left--;
      }
      if (out) sock.write(out);
      else if (inFlight === 0) {
        sock.end();
        resolve();
      }
    };
    sock.setEncoding('latin1');
    sock.on('connect', fill);
    sock.on('data', (d: string) => {
      buf += d;
      // empty-bodied 302s: a response ends with its header block
      for (let i = buf.indexOf('\r\n\r\n'); i >= 0; i = buf.indexOf('\r\n\r\n')) {
        if (!buf.startsWith('HTTP/1.1 302')) {
          reject(new Error(`unexpected answer: ${buf.slice(0, 200)}`));
          sock.destroy();
          return;
        }
        buf = buf.slice(i + 4);
        inFlight--;
      }
      if (inFlight === 0) fill();
    });
    sock.on('error', reject);
  });
  await Promise.all(Array.from({ length: conns }, one));
}

export async function run(opts: ScenarioOptions): Promise<ScenarioResult> {
  if (!hasValgrind()) {
    const reason = 'valgrind is not installed (Debian/Ubuntu: `apt-get install -y valgrind`)';
    return { rows: [], targets: [], notes: [`skipped: ${reason}`], skipped: [{ name: FLOOR_P1, reason }] };
  }
  const own = opts.context ? null : new BenchContext();
  const ctx = opts.context ?? own!;
  const running: Proc[] = [];
  try {
    const fx = await ctx.redirectFixture(opts.quick);
    const plainCount = Math.min(fx.plainPaths.length, 20_000);
    // BENCH_INSTRUCTIONS_PATHS=rules: the nodes are asked for the fixture's links with geo + device +
    // A/B rules instead of plain ones (the floor serves plain links only: count `on`/`off` then)
    const rulePaths = process.env.BENCH_INSTRUCTIONS_PATHS === 'rules';
    const paths = rulePaths ? fx.rulePaths : fx.plainPaths.slice(0, plainCount);
    const entries = function* () {
      for (let i = 0; i < plainCount; i++) yield [fx.plainPaths[i]!, plainDestination(i)] as [string, string];
    };
    const warm = 20_000;
    // long enough that a major GC in the window is averaged, not a 0-or-1 event (5 000 swung a node by ±25 %)
    const measured = 10_000;
    // BENCH_CALLGRIND_DIR=<dir>: keep the dumps there (for callgrind_annotate) instead of the run's scratch
    const outDir = process.env.BENCH_CALLGRIND_DIR ?? ctx.scratch('callgrind');

    /** A node synced first without valgrind, then restarted under it on the same store. */
    async function countedNode(name: string, env: Record<string, string>, dist: string, nodeFlags: readonly string[]): Promise<Counted> {
      const lmdbPath = ctx.scratch(name);
      const pre = await startBenchNode({ natsUrl: fx.natsUrl, prefix: fx.prefix, lmdbPath, cpus: null, env, readyTimeoutMs: 900_000 });
      await pre.stop();
      const port = await freePort();
      const file = join(dist, 'data-plane', 'main.js');
      const proc = startProc(name, 'valgrind', [...valgrindArgs(outDir), process.execPath, ...nodeFlags, file], {
        env: {
          PORT: String(port), OPS_PORT: '0', HOST: '127.0.0.1', NATS_URL: fx.natsUrl, NATS_PREFIX: fx.prefix, LMDB_PATH: lmdbPath,
          NODE_ID: `bench-cg-${port}`, WORKERS: '1', TRUSTED_PROXIES: '127.0.0.1/32', SHUTDOWN_GRACE_MS: '200', LOG_LEVEL: 'warn',
          SECRETS_KEY: BENCH_SECRETS_KEY, LMDB_MAP_SIZE_GB: '4', ...env,
        },
      });
      running.push(proc);
      await waitForAnswer({ port, host: fx.host, path: `/${paths[0]!}`, status: 302, timeoutMs: 600_000, everyMs: 500, alive: proc.alive });
      return { proc, port, outDir, host: '127.0.0.1' };
    }

    async function countedFloor(): Promise<Counted> {
      const dir = ctx.scratch('bare-cg');
      const bare = await startBareRedirect({ dir, host: fx.host, entries: entries(), probePath: paths[0]!, cpus: null });
      const lmdb = join(dir, 'bare.mdb'); // written by startBareRedirect
      await bare.stop();
      const port = await freePort();
      const script = fileURLToPath(new URL('../lib/bare-redirect-server.js', import.meta.url));
      const proc = startProc('bare-cg', 'valgrind', [...valgrindArgs(outDir), process.execPath, script, String(port), lmdb]);
      running.push(proc);
      await waitForAnswer({ port, host: fx.host, path: `/${paths[0]!}`, status: 302, timeoutMs: 600_000, everyMs: 500, alive: proc.alive });
      return { proc, port, outDir, host: process.env.HOST };
    }

    /** Instructions per request of `pipelining`, idle-corrected. */
    async function perRequest(c: Counted, pipelining: number): Promise<{ perReq: number; idlePerS: number }> {
      const conns = 4;
      await send(c.port, fx.host, paths, fx.headerSets, warm, conns, pipelining, 1);
      await sleep(1000);
      // idle: the same wall time without requests (timers, the ring reader's polling)
      control(c, '-z');
      const i0 = performance.now();
      await sleep(3000);
      control(c, '-d');
      const idleSeconds = (performance.now() - i0) / 1000;
      const idlePerS = lastDumpTotal(c.outDir, c.proc.pid) / idleSeconds;
      control(c, '-z');
      await send(c.port, fx.host, paths, fx.headerSets, measured, conns, pipelining, 2);
      await sleep(1500); // the clicks' batch (flush after 250 ms), spool write and ship
      control(c, '-d');
      const total = lastDumpTotal(c.outDir, c.proc.pid);
      return { perReq: total / measured, idlePerS };
    }

    // BENCH_INSTRUCTIONS_CASES: which of floor, on (capture on), off (capture off) to count (default: all)
    const cases = new Set((process.env.BENCH_INSTRUCTIONS_CASES ?? 'floor,on,off').split(',').map((c) => c.trim()));
    if (rulePaths && cases.has('floor')) throw new Error('BENCH_INSTRUCTIONS_PATHS=rules: the floor has no rule links; set BENCH_INSTRUCTIONS_CASES=on or on,off');
    // other builds counted in the same sitting: BENCH_BASELINE_DIST (label `baseline`) and
    // BENCH_COMPARE_DISTS=<label>=<dist>[,<label>=<dist>…] (one change at a time, before/after)
    // (an entry's optional third part replaces the node's start flags: `<label>=<dist>=-` for none,
    // `=--flag --flag` for others; its fourth names its cases, `on`, `off` or `on off`)
    type Mode = 'on' | 'off';
    const allModes = (['on', 'off'] as const).filter((m) => cases.has(m));
    const builds: { label: string; dist: string; flags: readonly string[]; modes: readonly Mode[] }[] = [
      { label: 'this build', dist: join(REPO_ROOT, 'dist'), flags: NODE_START_FLAGS, modes: allModes },
    ];
    if (process.env.BENCH_BASELINE_DIST) builds.push({ label: 'baseline', dist: process.env.BENCH_BASELINE_DIST, flags: NODE_START_FLAGS, modes: allModes });
    for (const entry of (process.env.BENCH_COMPARE_DISTS ?? '').split(',').filter(Boolean)) {
      const [label, dist, flags, modes] = entry.split('=');
      if (!label || !dist) throw new Error(`BENCH_COMPARE_DISTS entry ${entry}: want <label>=<dist>[=<node flags>[=<cases>]]`);
      builds.push({
        label,
        dist,
        flags: flags === undefined ? NODE_START_FLAGS : flags.split(' ').filter((f) => f && f !== '-'),
        modes: modes === undefined ? allModes : modes.split(' ').filter((m): m is Mode => m === 'on' || m === 'off'),
      });
    }
    const pids: string[] = [];
    let f1 = { perReq: NaN, idlePerS: NaN };
    let f16 = { perReq: NaN, idlePerS: NaN };
    if (cases.has('floor')) {
      const floor = await countedFloor();
      pids.push(`floor: ${floor.proc.pid}`);
      f1 = await perRequest(floor, 1);
      f16 = await perRequest(floor, 16);
      await floor.proc.stop();
    }
    type Counts = { p1: number; p16: number; idle: number };
    const counted = new Map<string, Counts>();
    for (const [bi, b] of builds.entries()) {
      for (const mode of b.modes) {
        const c = await countedNode(`node-cg-${bi}-${mode}`, mode === 'off' ? { CLICK_CAPTURE: 'false' } : {}, b.dist, b.flags);
        pids.push(`${b.label}, capture ${mode}${b.flags.length > 0 ? ` (${b.flags.join(' ')})` : ''}: ${c.proc.pid}`);
        const x1 = await perRequest(c, 1);
        const x16 = await perRequest(c, 16);
        await c.proc.stop();
        counted.set(`${b.label}/${mode}`, { p1: x1.perReq, p16: x16.perReq, idle: x1.idlePerS });
      }
    }
    const none: Counts = { p1: NaN, p16: NaN, idle: NaN };
    const n1 = counted.get('this build/on') ?? none;
    const o1 = counted.get('this build/off') ?? none;

    const k = (n: number) => Math.round(n / 100) / 10; // thousands, one decimal
    const r = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    const rows: Record<string, number | string>[] = [
      { server: 'bare uWS + LMDB', 'k instr/req p1': k(f1.perReq), 'k instr/req p16': k(f16.perReq), 'idle k instr/s': k(f1.idlePerS), '× floor p1': '', '× floor p16': '' },
    ];
    for (const b of builds) {
      for (const mode of ['on', 'off'] as const) {
        const c = counted.get(`${b.label}/${mode}`);
        if (!c) continue;
        const name = `node${b.label === 'this build' ? '' : ` (${b.label})`}${mode === 'off' ? ', capture off' : ''}`;
        rows.push({ server: name, 'k instr/req p1': k(c.p1), 'k instr/req p16': k(c.p16), 'idle k instr/s': k(c.idle), '× floor p1': r(c.p1, f1.perReq), '× floor p16': r(c.p16, f16.perReq) });
      }
      const on = counted.get(`${b.label}/on`);
      const off = counted.get(`${b.label}/off`);
      if (on && off) {
        rows.push({ server: `node${b.label === 'this build' ? '' : ` (${b.label})`}: click capture per redirect`, 'k instr/req p1': k(on.p1 - off.p1), 'k instr/req p16': k(on.p16 - off.p16), 'idle k instr/s': '', '× floor p1': '', '× floor p16': '' });
      }
    }
    const n16 = n1.p16;
        return {
      rows,
      notes: [
        `callgrind (valgrind ${execFileSync('valgrind', ['--version']).toString().trim()}), every thread of each process; ${warm} warm-up requests, then ${measured} counted, over 4 keep-alive connections, random keys over ${rulePaths ? `${paths.length} links with geo + device + A/B rules` : `${plainCount} links`} and ${fx.headerSets.length} visitor header sets; the count over the window divided by the requests (timers, JIT and GC in the window included); an idle window's rate beside it, not subtracted`,
        'node: one worker thread; the count includes the main thread reading the click ring, encoding, spooling and shipping the clicks of the counted requests',
        `callgrind pids (dumps cg.<pid>.* in ${outDir}): ${pids.join('; ')}`,
      ],
      targets: [
        { name: FLOOR_P1, value: r(n1.p1, f1.perReq), target: 1.3, op: '<=' },
        { name: FLOOR_P16, value: r(n16, f16.perReq), target: 2.0, op: '<=' },
        { name: OFF_P1, value: r(o1.p1, f1.perReq), target: 1.1, op: '<=' },
      ],
    };
  } finally {
    for (const p of running) await p.stop(5000).catch(() => undefined);
    await own?.close();
  }
}
