/**
 * The redirect node's CPU per KV message during a bulk import, without the control plane: a fresh
 * nats-server, a node (one worker) started and ready on the empty bucket, then `links` compiled
 * links written into the bucket the way the outbox relay writes them (pipelined batches of 1 000,
 * each message with its `Lp-Outbox-Seq` header, at about `rate` messages/s as the relay publishes
 * a bulk job's rows) until the node's applied sequence reaches the bucket's last. Reports the
 * node process's CPU (/proc, all threads) over that span, per message.
 *
 *   npm run build && node dist/bench/micro/node-apply.js [links=50000] [rate=8000] [dist…]
 *
 * With several `dist` directories (other builds: `git worktree add --detach …`, `npm run build`
 * there) the nodes of each build run alternately, three rounds: compare within one run.
 * BENCH_NO_SEQ=1 sends no Lp-Outbox-Seq header (what the relay sent before the live lane).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { KvBatchPublisher, type KvWrite } from '../../control-plane/outbox/kv-batch-publisher.js';
import { compileDomain, compileLink, domainKvKey, encodeKvValue, linkKvKey, openLinksBucket } from '../../shared/index.js';
import { startNatsServer } from '../../shared/testing/index.js';
import { startBenchNode } from '../lib/bench-context.js';
import { fetchMetrics, metricValue, sleep } from '../lib/http-probe.js';
import { BENCH_DOMAIN, BENCH_DOMAIN_SETTINGS, plainPath, plainSource } from '../lib/link-dataset.js';
import { cpuSecondsOf } from '../lib/proc-stat.js';

const N = Number(process.argv[2] ?? 50_000);
const RATE = Number(process.argv[3] ?? 8000);
const dists = process.argv.length > 4 ? process.argv.slice(4).map((d) => resolve(d)) : [undefined];
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PREFIX = 'lpbapply';
const BATCH = 1000;
const withSeq = process.env.BENCH_NO_SEQ !== '1';
/** Redirects/s to one link during the run (the bulk scenario probes at 200/s); 0: none. */
const PROBE_RATE = Number(process.env.BENCH_PROBE_RATE ?? 0);

/** GETs of `path` at `rate`/s until the returned stop() is called. */
function probe(port: number, path: string, rate: number): () => Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let running = rate > 0;
  const loop = (async () => {
    while (running) {
      await new Promise<void>((done) => {
        const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: BENCH_DOMAIN } }, (res) => res.resume().on('end', done));
        req.on('error', () => done());
        req.end();
      });
      await sleep(1000 / rate);
    }
  })();
  return async () => {
    running = false;
    await loop;
    agent.destroy();
  };
}

/** CPU seconds of each thread of `pid` (by thread id, with its name). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(`${tid} ${name}`, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function once(dist: string | undefined): Promise<{ cpu: number; ms: number; links: number; transactions: number }> {
  const nats = await startNatsServer();
  const lmdb = mkdtempSync(join(tmpdir(), 'lp-bench-apply-'));
  try {
    const nc = await connect({ servers: nats.url });
    const kv = await openLinksBucket(nc, PREFIX);
    const publisher = KvBatchPublisher.for(kv);
    let seq = 1;
    await publisher.publish([{ key: domainKvKey(BENCH_DOMAIN), op: 'put', payload: encodeKvValue(compileDomain(BENCH_DOMAIN_SETTINGS)), ...(withSeq ? { seq: String(seq++) } : {}) }], 30_000);
    const node = await startBenchNode({ natsUrl: nats.url, prefix: PREFIX, lmdbPath: lmdb, cpus: null, dist });
    // builds before the operations port (OPS_PORT) answer /metrics on the serving port
    const metrics = () => node.metrics().catch(() => fetchMetrics(node.port));
    try {
      await sleep(1000);
      const cpu0 = cpuSecondsOf(node.pid);
      const threads0 = threadCpu(node.pid);
      const tx0 = metricValue(await metrics(), 'linkplane_node_sync_transactions_total');
      const t0 = performance.now();
      const stopProbe = probe(node.port, `/${plainPath(0)}`, PROBE_RATE);
      for (let i = 0; i < N; i += BATCH) {
        const writes: KvWrite[] = [];
        for (let k = i; k < Math.min(N, i + BATCH); k++) {
          const src = plainSource(k);
          writes.push({ key: linkKvKey(src.domain, src.path), op: 'put', payload: encodeKvValue(compileLink(src, BENCH_DOMAIN_SETTINGS)), ...(withSeq ? { seq: String(seq++) } : {}) });
        }
        await publisher.publish(writes, 30_000);
        const due = t0 + ((i + BATCH) / RATE) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      publisher.close();
      const lastSeq = (await kv.status()).streamInfo.state.last_seq;
      await nc.close();
      let text = '';
      for (;;) {
        text = await metrics();
        if (metricValue(text, 'linkplane_node_sync_applied_sequence') >= lastSeq) break;
        await sleep(20);
      }
      const ms = performance.now() - t0;
      await stopProbe();
      const cpu = cpuSecondsOf(node.pid) - cpu0;
      if (process.env.BENCH_THREADS === '1') {
        const parts = [...threadCpu(node.pid)].map(([t, c]) => [t, c - (threads0.get(t) ?? 0)] as const).filter(([, c]) => c > 0);
        console.log(`  threads: ${parts.map(([t, c]) => `${t} ${c.toFixed(2)}`).join(', ')}`);
      }
      return { cpu, ms, links: metricValue(text, 'linkplane_node_links'), transactions: metricValue(text, 'linkplane_node_sync_transactions_total') - tx0 };
    } finally {
      await node.stop();
    }
  } finally {
    await nats.destroy();
    rmSync(lmdb, { recursive: true, force: true });
  }
}

const results = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++) {
  for (const d of dists) {
    const res = await once(d);
    const name = d ?? 'this build';
    (results.get(name) ?? results.set(name, []).get(name)!).push(res.cpu);
    console.log(`${name}: node CPU ${res.cpu.toFixed(2)} s (${((res.cpu / N) * 1e6).toFixed(1)} µs/message), publish start → applied ${(res.ms / 1000).toFixed(1)} s, ${res.transactions} transactions, ${res.links} links`);
  }
}
for (const [name, cpus] of results) {
  const sorted = [...cpus].sort((a, b) => a - b);
  console.log(`${name}: median node CPU ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} s over ${cpus.length} runs (${sorted.map((c) => c.toFixed(2)).join(', ')})`);
}
