/**
 * Where a redirect node's memory goes besides the LMDB map (issue 13's RSS target), measured the
 * way `redirect` measures it: the bench's links (plain + geo/device/A/B rule links) published once
 * into a private nats-server, then fresh nodes (one serving thread, capture on) replay them into
 * empty stores, one after another, builds and settings alternating. Each node is read twice: after
 * the replay (ready, every link served) and after a short load over plain and rule links.
 *
 *   npm run build && node dist/bench/micro/node-memory.js [links=200000] [rounds=2] [variant…]
 *
 * A variant is `name=<label>,dist=<dir>,env=K:V;K:V,args=<node flags separated by ;>`; without
 * one the probe compares this checkout's dist/ with itself. Besides RSS − the map, it splits the
 * resident pages by mapping (/proc/<pid>/smaps): the LMDB map, the malloc main heap, anonymous
 * mappings (V8 heaps, thread arenas, SharedArrayBuffers), stacks, the node binary and other files.
 * Single readings vary by several MB: compare variants within one run, over alternating rounds.
 */
import { readFileSync } from 'node:fs';
import { startNatsServer } from '../../shared/testing/index.js';
import { BenchContext, startBenchNode, BENCH_PREFIX } from '../lib/bench-context.js';
import { cpuPlan } from '../lib/cpu-pin.js';
import { fetchMetrics, metricValue, sleep } from '../lib/http-probe.js';
import { BENCH_DOMAIN, plainPath, publishLinks, rulePath, visitorHeaderSets } from '../lib/link-dataset.js';
import { measure } from '../lib/measure.js';

const MB = 1024 * 1024;
const count = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 2);
const ruleCount = Math.max(100, Math.round(count / 200));

interface Variant {
  name: string;
  dist?: string;
  env: Record<string, string>;
  args: string;
}

function parseVariant(s: string): Variant {
  const v: Variant = { name: s, env: {}, args: '' };
  for (const part of s.split(',')) {
    const [k, ...rest] = part.split('=');
    const val = rest.join('=');
    if (k === 'name') v.name = val;
    else if (k === 'dist') v.dist = val;
    else if (k === 'args') v.args = val.split(';').join(' ');
    else if (k === 'env') for (const kv of val.split(';').filter(Boolean)) v.env[kv.split(':')[0]!] = kv.split(':').slice(1).join(':');
  }
  return v;
}

const variants = process.argv.slice(4).map(parseVariant);
if (variants.length === 0) variants.push({ name: 'A', env: {}, args: '' }, { name: 'B', env: {}, args: '' });

/** Resident MB by kind of mapping. */
function smapsSplit(pid: number, lmdbDir: string): Record<string, number> {
  const text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const name = m[1] ?? '';
      kind = name.startsWith(lmdbDir) ? 'lmdb'
        : name === '' ? 'anon'
        : name === '[heap]' ? 'brk'
        : name.startsWith('[stack') ? 'stack'
        : name.endsWith('/node') || name.includes('/bin/node') ? 'node-bin'
        : name.includes('/dev/shm') || name.includes('SYSV') ? 'shm'
        : name.startsWith('[') ? 'other['
        : name.endsWith('.node') ? 'addons'
        : name.includes('.so') ? 'libs'
        : 'files';
    } else if (line.startsWith('Rss:')) {
      out[kind] = (out[kind] ?? 0) + Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
    }
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k]! * 10) / 10;
  return out;
}

function status(pid: number): Record<string, number> {
  const text = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (f: string) => Math.round(Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) / 102.4) / 10;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem'), threads: Number(/^Threads:\s+(\d+)/m.exec(text)?.[1]) };
}

async function reading(label: string, v: Variant, pid: number, opsPort: number, lmdbDir: string): Promise<Record<string, number | string>> {
  const text = await fetchMetrics(opsPort);
  const s = status(pid);
  const split = smapsSplit(pid, lmdbDir);
  return {
    variant: v.name,
    at: label,
    ...s,
    withoutLmdb: Math.round((s.rss! - (split.lmdb ?? 0)) * 10) / 10,
    ...split,
    mainHeapUsed: Math.round(metricValue(text, 'nodejs_heap_size_used_bytes') / MB),
    mainHeapTotal: Math.round(metricValue(text, 'nodejs_heap_size_total_bytes') / MB),
    syncHeapUsed: Math.round(metricValue(text, 'linkplane_node_sync_heap_used_bytes') / MB),
    syncHeapTotal: Math.round(metricValue(text, 'linkplane_node_sync_heap_total_bytes') / MB),
    syncExternal: Math.round(metricValue(text, 'linkplane_node_sync_external_bytes') / MB),
  };
}

const ctx = new BenchContext();
const nats = await startNatsServer();
try {
  const t0 = performance.now();
  const published = await publishLinks(nats.url, BENCH_PREFIX, count, ruleCount);
  process.stderr.write(`published ${published.puts} puts in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const headerSets = visitorHeaderSets(200);
  const plain = { host: BENCH_DOMAIN, paths: Array.from({ length: count }, (_, i) => plainPath(i)), headerSets };
  const rules = { host: BENCH_DOMAIN, paths: Array.from({ length: ruleCount }, (_, i) => rulePath(i)), headerSets };
  const rows: Record<string, number | string>[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      process.env.BENCH_NODE_ARGS = v.args;
      const lmdbPath = ctx.scratch('mem-node');
      const t1 = performance.now();
      const node = await startBenchNode({ natsUrl: nats.url, prefix: BENCH_PREFIX, lmdbPath, cpus: cpuPlan().server, readyTimeoutMs: 900_000, env: v.env, dist: v.dist });
      try {
        for (let i = 0; i < 600; i++) {
          if (metricValue(await node.metrics(), 'linkplane_node_links') >= count + ruleCount) break;
          await sleep(100);
        }
        const replay = (performance.now() - t1) / 1000;
        await sleep(2000);
        rows.push({ ...(await reading('replayed', v, node.pid, node.opsPort, lmdbPath)), replayS: Math.round(replay * 10) / 10 });
        process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
        const server = { name: v.name, port: node.port, pids: () => [node.pid] };
        const spec = (pathSet: typeof plain) => ({ warmupMs: 300, durationMs: 3000, connections: 32, mode: { kind: 'closed' as const, pipelining: 1 }, requests: [], pathSet, expect: [302] });
        const p = await measure(server, spec(plain));
        const q = await measure(server, spec(rules));
        await sleep(1500);
        rows.push({
          ...(await reading('served', v, node.pid, node.opsPort, lmdbPath)),
          plainUs: Math.round((p.serverCpuUsPerRequest ?? NaN) * 100) / 100,
          rulesUs: Math.round((q.serverCpuUsPerRequest ?? NaN) * 100) / 100,
          ratio: Math.round(((q.serverCpuUsPerRequest ?? NaN) / (p.serverCpuUsPerRequest ?? NaN)) * 100) / 100,
        });
        process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
      } finally {
        await node.stop();
      }
    }
  }
  console.table(rows.map(({ variant, at, rss, withoutLmdb, lmdb, anon, brk, stack, files, libs, addons, 'node-bin': bin, mainHeapTotal, syncHeapTotal, syncExternal, threads, ratio }) =>
    ({ variant, at, rss, withoutLmdb, lmdb, anon, brk, stack, bin, libs, addons, files, mainHeapTotal, syncHeapTotal, syncExternal, threads, ratio })));
} finally {
  await nats.destroy();
  await ctx.close();
}
