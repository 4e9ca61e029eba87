/**
 * What an idle redirect node costs: starts a node (one serving thread, click capture on, an empty
 * store) from each given build, lets it settle, then reads every thread's CPU time from
 * /proc/<pid>/task/<tid>/schedstat (nanoseconds on CPU) over a window without requests. Builds are
 * measured in turns (A B A B …), so they share the machine's conditions.
 *
 *   npx tsx bench/micro/node-idle.ts <dist> [<dist> …] [--seconds 10] [--rounds 2] [--env K=V …] [--node-arg A …]
 *
 * Needs NATS at NATS_URL (default nats://127.0.0.1:4222). Prints ms of CPU per second per thread
 * name (the main thread is `node`, the serving thread `serve-…`/`WorkerThread`, V8's helpers, libuv's pool).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const dists: string[] = [];
let seconds = 10;
let rounds = 2;
const extraEnv: Record<string, string> = {};
const nodeArgs: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--seconds') seconds = Number(args[++i]);
  else if (a === '--rounds') rounds = Number(args[++i]);
  else if (a === '--node-arg') nodeArgs.push(args[++i]!);
  else if (a === '--env') {
    const [k, ...v] = args[++i]!.split('=');
    extraEnv[k!] = v.join('=');
  } else dists.push(resolve(a));
}
if (dists.length === 0) throw new Error('usage: node-idle.ts <dist> [<dist> …] [--seconds 10] [--rounds 2]');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

/** ns on CPU by thread (tid → [name, ns]). */
function threads(pid: number): Map<string, [string, number]> {
  const out = new Map<string, [string, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim();
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      out.set(tid, [tid === String(pid) ? 'main' : name, ns]);
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function measure(dist: string): Promise<Map<string, number>> {
  const port = await freePort();
  const opsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lp-idle-'));
  const child: ChildProcess = spawn(process.execPath, ['--single-threaded-gc', ...nodeArgs, join(dist, 'data-plane', 'main.js')], {
    env: {
      ...process.env, MALLOC_ARENA_MAX: '2', PORT: String(port), OPS_PORT: String(opsPort), HOST: '127.0.0.1',
      NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', NATS_PREFIX: `idle${port}`, LMDB_PATH: dir,
      NODE_ID: `idle-${port}`, WORKERS: '1', LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '200', ...extraEnv,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status === 200) break;
      } catch {
        // not up yet
      }
      if (i > 300) throw new Error(`node of ${dist} not ready`);
      await sleep(100);
    }
    await sleep(3000); // the start's compiling and GC settle
    const a = threads(child.pid!);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const b = threads(child.pid!);
    const s = (performance.now() - t0) / 1000;
    const byName = new Map<string, number>();
    for (const [tid, [name, ns]] of b) {
      const d = (ns - (a.get(tid)?.[1] ?? 0)) / 1e6 / s;
      byName.set(name, (byName.get(name) ?? 0) + d);
    }
    return byName;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = dists.map(() => [] as Map<string, number>[]);
for (let r = 0; r < rounds; r++) {
  // alternate the order each round: A B, B A, …
  const order = dists.map((_, i) => i);
  if (r % 2 === 1) order.reverse();
  for (const i of order) results[i]!.push(await measure(dists[i]!));
}
for (const [i, dist] of dists.entries()) {
  const runs = results[i]!;
  const names = [...new Set(runs.flatMap((m) => [...m.keys()]))].sort();
  const fmt = (n: number) => n.toFixed(2);
  const total = runs.map((m) => [...m.values()].reduce((x, y) => x + y, 0));
  process.stdout.write(`${dist}: ms CPU per s idle, ${rounds} × ${seconds} s — total ${total.map(fmt).join(' / ')}\n`);
  for (const n of names) {
    const v = runs.map((m) => m.get(n) ?? 0);
    if (v.some((x) => x >= 0.05)) process.stdout.write(`  ${n.padEnd(18)} ${v.map(fmt).join(' / ')}\n`);
  }
}
