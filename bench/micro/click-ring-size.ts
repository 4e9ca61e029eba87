/**
 * The click ring's size against what it must absorb (issue 13: no click dropped up to 80 % of
 * saturation; RSS besides the LMDB map ≤ 200 MB). Fresh nodes (one serving thread, capture on) of
 * the builds given replay the bench's plain links, then are driven closed-loop — at saturation,
 * past the 80 % the promise covers — over random keys and visitor header sets; each reading gives
 * the clicks answered / received / dropped (ring full or backlog), RSS besides the map, and the
 * resident part of the click ring's own mapping (an anonymous mapping of the ring's size + 4 KiB).
 *
 *   npm run build && node dist/bench/micro/click-ring-size.js [links=100000] [rounds=2] [name=<label>,dist=<dir>,ring=<MiB>…]
 *
 * `ring` is the ring size that build makes (to find its mapping). Builds alternate round by round.
 */
import { readFileSync } from 'node:fs';
import { startNatsServer } from '../../shared/testing/index.js';
import { BenchContext, startBenchNode, BENCH_PREFIX } from '../lib/bench-context.js';
import { cpuPlan } from '../lib/cpu-pin.js';
import { fetchMetrics, metricValue, sleep } from '../lib/http-probe.js';
import { BENCH_DOMAIN, plainPath, publishLinks, visitorHeaderSets } from '../lib/link-dataset.js';
import { measure } from '../lib/measure.js';

const count = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 2);

interface Variant {
  name: string;
  dist?: string;
  ringMiB: number;
}
const variants: Variant[] = process.argv.slice(4).map((s) => {
  const v: Variant = { name: s, ringMiB: 2 };
  for (const part of s.split(',')) {
    const [k, ...rest] = part.split('=');
    const val = rest.join('=');
    if (k === 'name') v.name = val;
    else if (k === 'dist') v.dist = val;
    else if (k === 'ring') v.ringMiB = Number(val);
  }
  return v;
});
if (variants.length === 0) variants.push({ name: 'this build', ringMiB: 2 });

/** RSS MB besides the LMDB map, and the resident MB of mappings of exactly the ring's size (+ malloc's page). */
function memory(pid: number, lmdbDir: string, ringMiB: number): { rss: number; withoutLmdb: number; ring: number } {
  const text = readFileSync(`/proc/${pid}/smaps`, 'latin1');
  let lmdb = 0;
  let ring = 0;
  let rss = 0;
  let name = '';
  let size = 0;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      name = m[3] ?? '';
      size = (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 1024;
    } else if (line.startsWith('Rss:')) {
      const kb = Number(/(\d+)/.exec(line)?.[1] ?? 0);
      rss += kb;
      if (name.startsWith(lmdbDir)) lmdb += kb;
      else if (name === '' && size === ringMiB * 1024 + 4) ring += kb;
    }
  }
  const mb = (kb: number) => Math.round(kb / 102.4) / 10;
  return { rss: mb(rss), withoutLmdb: mb(rss - lmdb), ring: mb(ring) };
}

async function clicks(opsPort: number): Promise<{ received: number; dropped: number }> {
  const text = await fetchMetrics(opsPort);
  return { received: metricValue(text, 'linkplane_node_clicks_received_total'), dropped: metricValue(text, 'linkplane_node_clicks_dropped_total') };
}

const ctx = new BenchContext();
const nats = await startNatsServer();
try {
  await publishLinks(nats.url, BENCH_PREFIX, count, 0);
  const plain = { host: BENCH_DOMAIN, paths: Array.from({ length: count }, (_, i) => plainPath(i)), headerSets: visitorHeaderSets(1000) };
  const rows: Record<string, number | string>[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      const lmdbPath = ctx.scratch('ring-node');
      const node = await startBenchNode({ natsUrl: nats.url, prefix: BENCH_PREFIX, lmdbPath, cpus: cpuPlan().server, readyTimeoutMs: 900_000, env: {}, dist: v.dist });
      try {
        for (let i = 0; i < 600; i++) {
          if (metricValue(await node.metrics(), 'linkplane_node_links') >= count) break;
          await sleep(100);
        }
        const c0 = await clicks(node.opsPort);
        const server = { name: v.name, port: node.port, pids: () => [node.pid] };
        const load = await measure(server, { warmupMs: 300, durationMs: 4000, connections: 64, mode: { kind: 'closed', pipelining: 4 }, requests: [], pathSet: plain, expect: [302] });
        await sleep(1500);
        const c1 = await clicks(node.opsPort);
        rows.push({
          variant: v.name, round: r + 1, 'req/s': Math.round(load.rps), 'cpu µs/req': Math.round((load.serverCpuUsPerRequest ?? NaN) * 100) / 100,
          received: c1.received - c0.received, dropped: c1.dropped - c0.dropped, ...memory(node.pid, lmdbPath, v.ringMiB),
        });
        process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
      } finally {
        await node.stop();
      }
    }
  }
  console.table(rows);
} finally {
  await nats.destroy();
  await ctx.close();
}
