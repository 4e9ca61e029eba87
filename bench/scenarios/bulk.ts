/**
 * `bulk`: the seed's nightly catalog import at scale — 1 000 000 links (50 000 with --quick) in
 * one streamed CSV upload (`POST /v1/links/bulk?operation=upsert`, chunked, never held whole)
 * to a real control plane (dist/, own database), until a real redirect node (dist/, one worker)
 * serves every one of them. Target (design §5): first request byte → all served ≤ 60 s;
 * control-plane RSS ≤ 512 MB during it; redirect p99 on the node while it runs ≤ 5 ms.
 *
 * Phases (they overlap: the relay publishes while batches commit, the node applies while the
 * relay publishes): upload (first byte → 202), processing (202 → job finished), publish (job
 * finished → outbox drained into the KV bucket), node apply (→ the node's applied sequence
 * reaches the bucket's last sequence). Then 2 000 random links are fetched from the node and
 * must redirect to their destinations.
 *
 * The floor (issue 17), measured in the same run just before the upload: a raw `COPY` of the same
 * rows (as stored: ids, domain, UTM, tags) into a table of the links table's shape with all of its
 * indexes (`LIKE links INCLUDING ALL`). The table is a logged one like links (a TEMP table would
 * skip the WAL the real write pays). The scenario's total is reported as a ratio to it.
 *
 * With BENCH_BASELINE_DIST=<another build's dist>, that build's control plane and node run the same
 * import in the same sitting, alternating with this build's (baseline, this, this, baseline: both
 * orders; BENCH_BULK_ROUNDS pairs, default 1): each round its own NATS, database, node and floor.
 * The table and the targets are this build's median round; the notes list every round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { natsNames } from '../../shared/index.js';
import { startNatsServer } from '../../shared/testing/index.js';
import { startBenchNode } from '../lib/bench-context.js';
import { BENCH_ADMIN_KEY, startBenchControlPlane } from '../lib/control-plane.js';
import { httpGet, metricValue, sleep } from '../lib/http-probe.js';
import { newHistogram, summarize } from '../lib/http-load.js';
import { cpuSecondsOf, cpuSecondsOfAll, rssBytesOf } from '../lib/proc-stat.js';
import type { ScenarioOptions, ScenarioResult } from '../lib/scenario.js';

const HOST = 'go.bench-bulk.example.com';
const PREFIX = 'lpbbulk';
const HEADER = 'domain,path,destination_url,tags,utm_source,utm_medium,utm_campaign\n';
const UTM = '?utm_source=catalog&utm_medium=pim&utm_campaign=spring_26';

const row = (i: number) => `${HOST},sku-${i},https://shop.example.com/p/${i},catalog|2026,catalog,pim,spring_26\n`;
const destination = (i: number) => `https://shop.example.com/p/${i}${UTM}`;

/** The CSV, generated as it is sent (64 KB chunks). */
function* csvChunks(n: number): Generator<string> {
  let chunk = HEADER;
  for (let i = 0; i < n; i++) {
    chunk += row(i);
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** Streams the CSV with chunked encoding; resolves with the 202 body and when the first byte went out. */
function upload(port: number, n: number): Promise<{ firstByte: number; accepted: number; status: number; body: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    let firstByte = 0;
    let bytes = 0;
    const req = request({
      host: '127.0.0.1', port, method: 'POST', path: '/v1/links/bulk?operation=upsert', agent: false,
      headers: { authorization: `Bearer ${BENCH_ADMIN_KEY}`, 'content-type': 'text/csv', 'transfer-encoding': 'chunked' },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ firstByte, accepted: performance.now(), status: res.statusCode ?? 0, body, bytes }));
    });
    req.on('error', reject);
    const chunks = csvChunks(n);
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done) return void req.end();
        if (firstByte === 0) firstByte = performance.now();
        bytes += next.value.length;
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

/** Open-loop GETs of one link on the node (`rate`/s) until stopped; latencies in µs. */
function probeRedirects(port: number, path: string, rate: number) {
  const h = newHistogram();
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let errors = 0;
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: HOST } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 302) h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          else errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const loop = (async () => {
    const every = 1000 / rate;
    let next = performance.now();
    const inflight = new Set<Promise<void>>();
    while (running) {
      next += every;
      const p = one();
      inflight.add(p);
      void p.then(() => inflight.delete(p));
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
    }
    await Promise.all(inflight);
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return { summary: summarize(h), count: h.totalCount, errors };
    },
  };
}

const s = (ms: number) => Math.round(ms / 100) / 10;

/**
 * The floor: `n` link rows as the import stores them, COPYed in one statement into a fresh table of
 * the links table's shape (every index of it), then dropped. Wall time and the backend's CPU.
 */
async function copyFloor(db: pg.Client, n: number): Promise<{ ms: number; pgCpu: number }> {
  const ids = (await db.query<{ workspace_id: string; id: string; key_id: string; pid: number }>(
    `SELECT workspace_id, id, (SELECT id FROM api_keys ORDER BY created_at LIMIT 1) AS key_id, pg_backend_pid() AS pid FROM domains WHERE hostname = $1`, [HOST],
  )).rows[0]!;
  await db.query('DROP TABLE IF EXISTS bench_links_floor');
  await db.query('CREATE TABLE bench_links_floor (LIKE links INCLUDING ALL)');
  const utm = JSON.stringify({ source: 'catalog', medium: 'pim', campaign: 'spring_26' });
  function* lines(): Generator<string> {
    let chunk = '';
    for (let i = 0; i < n; i++) {
      // ln_ + 26 characters, like the writer's ids; created/updated_at take their defaults
      chunk += `ln_FLOOR${String(i).padStart(21, '0')}\t${ids.workspace_id}\t${ids.id}\t${HOST}\tsku-${i}\thttps://shop.example.com/p/${i}\t${utm}\t{catalog,2026}\t${ids.key_id}\n`;
      if (chunk.length >= 65_536) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
  const cpu0 = cpuSecondsOf(ids.pid);
  const t0 = performance.now();
  await pipeline(Readable.from(lines()), db.query(copyFrom('COPY bench_links_floor (id, workspace_id, domain_id, domain, path, destination_url, utm, tags, created_by) FROM STDIN')));
  const ms = performance.now() - t0;
  const pgCpu = cpuSecondsOf(ids.pid) - cpu0;
  await db.query('DROP TABLE bench_links_floor');
  return { ms, pgCpu };
}

/** One round's figures, for the comparison of builds. */
interface Round {
  build: string;
  totalS: number;
  floorS: number;
  cp: number;
  pg: number;
  node: number;
  result: ScenarioResult;
}

async function runOnce(opts: ScenarioOptions, build: string, dist: string | undefined): Promise<Round> {
  const n = opts.quick ? 50_000 : 1_000_000;
  const nats = await startNatsServer();
  const lmdb = mkdtempSync(join(tmpdir(), 'lp-bench-bulk-'));
  const names = natsNames(PREFIX);
  try {
    const cp = await startBenchControlPlane({ label: 'bulk', natsUrl: nats.url, prefix: PREFIX, dist });
    const db = new pg.Client({ connectionString: cp.db.url });
    await db.connect();
    try {
      const dom = await cp.call('POST', '/v1/domains', { hostname: HOST });
      if (dom.status !== 201) throw new Error(`POST /v1/domains → ${dom.status} ${JSON.stringify(dom.json)}`);
      const canary = await cp.call('POST', '/v1/links', { domain: HOST, path: 'canary', destination_url: 'https://shop.example.com/canary' });
      if (canary.status !== 201) throw new Error(`POST /v1/links → ${canary.status}`);
      const node = await startBenchNode({ natsUrl: nats.url, prefix: PREFIX, lmdbPath: lmdb, cpus: null, dist });
      try {
        for (let i = 0; (await httpGet({ port: node.port, path: '/canary', host: HOST })).status !== 302; i++) {
          if (i > 200) throw new Error('the canary link never reached the node');
          await sleep(50);
        }
        const floor = await copyFloor(db, n);
        // samplers: control-plane RSS and the redirect probe, for the whole run
        let rssMax = 0;
        const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, rssBytesOf(cp.proc.pid))), 200);
        const pgBackends = async () =>
          (await db.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)).rows.map((r) => r.pid);
        const cpu0 = { cp: cpuSecondsOf(cp.proc.pid), node: cpuSecondsOf(node.pid), pg: cpuSecondsOfAll(await pgBackends()) };
        const syncCounters = ['applied_entries_total', 'transactions_total', 'live_applied_total', 'live_ignored_total', 'kv_superseded_total'];
        const text0 = await node.metrics();
        const nodeSync0 = new Map(syncCounters.map((c) => [c, metricValue(text0, `linkplane_node_sync_${c}`)]));
        const probe = probeRedirects(node.port, '/canary', 200);

        const up = await upload(cp.port, n);
        if (up.status !== 202) throw new Error(`upload → ${up.status} ${up.body.slice(0, 500)}`);
        const jobId = (JSON.parse(up.body) as { job_id: string }).job_id;

        interface JobView { status: string; counts: { succeeded: number; failed: number } }
        let processed = 0;
        let job: JobView = { status: 'unknown', counts: { succeeded: 0, failed: 0 } };
        while (!processed) {
          const r = await cp.call('GET', `/v1/jobs/${jobId}`);
          const status = String(r.json.status);
          if (['succeeded', 'partially_succeeded', 'failed', 'cancelled'].includes(status)) {
            processed = performance.now();
            job = r.json as unknown as JobView;
          } else await sleep(100);
        }
        let published = 0;
        while (!published) {
          const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL');
          if (Number(rows[0]!.n) === 0) published = performance.now();
          else await sleep(100);
        }
        const nc = await connect({ servers: nats.url });
        const lastSeq = (await (await jetstreamManager(nc)).streams.info(names.linksStream)).state.last_seq;
        await nc.close();
        let applied = 0;
        while (!applied) {
          if (metricValue(await node.metrics(), 'linkplane_node_sync_applied_sequence') >= lastSeq) applied = performance.now();
          else await sleep(50);
        }
        const red = await probe.stop();
        const nodeText = await node.metrics();
        const nodeSync = (name: string) => metricValue(nodeText, `linkplane_node_sync_${name}`) - (nodeSync0.get(name) ?? 0);
        clearInterval(rssTimer);
        rssMax = Math.max(rssMax, rssBytesOf(cp.proc.pid));
        // backends that lived through the run (the pool keeps idle ones 30 s): an estimate of Postgres' share
        const cpu = { cp: cpuSecondsOf(cp.proc.pid) - cpu0.cp, node: cpuSecondsOf(node.pid) - cpu0.node, pg: cpuSecondsOfAll(await pgBackends()) - cpu0.pg };

        // every sampled link is served with its destination
        let wrong = 0;
        const samples = 2000;
        for (let k = 0; k < samples; k++) {
          const i = Math.floor(Math.random() * n);
          const r = await httpGet({ port: node.port, path: `/sku-${i}`, host: HOST });
          if (r.status !== 302 || r.headers.location !== destination(i)) wrong++;
        }
        const total = applied - up.firstByte;
        const server = await db.query<{ upload_ms: string; processing_ms: string }>(
          `SELECT extract(epoch FROM created_at - upload_started_at) * 1000 AS upload_ms,
                  extract(epoch FROM finished_at - started_at) * 1000 AS processing_ms FROM jobs WHERE id = $1`,
          [jobId],
        );
        const p99 = red.summary.p99 / 1000;
        const result: ScenarioResult = {
          rows: [
            { phase: 'upload (first byte → 202)', 'ends at s': s(up.accepted - up.firstByte), 'took s': s(up.accepted - up.firstByte), 'items/s': Math.round(n / ((up.accepted - up.firstByte) / 1000)) },
            { phase: 'processing (202 → job finished)', 'ends at s': s(processed - up.firstByte), 'took s': s(processed - up.accepted), 'items/s': Math.round(n / ((processed - up.accepted) / 1000)) },
            { phase: 'publish (→ outbox drained to KV)', 'ends at s': s(published - up.firstByte), 'took s': s(published - processed), 'items/s': '' },
            { phase: 'node apply (→ applied seq = KV last seq)', 'ends at s': s(applied - up.firstByte), 'took s': s(applied - published), 'items/s': '' },
            { phase: 'total: first byte → all served', 'ends at s': s(total), 'took s': s(total), 'items/s': Math.round(n / (total / 1000)) },
            { phase: 'floor: COPY of the same rows, links shape + indexes', 'ends at s': '', 'took s': s(floor.ms), 'items/s': Math.round(n / (floor.ms / 1000)) },
            { phase: 'total / floor', 'ends at s': '', 'took s': `${(total / floor.ms).toFixed(1)} ×`, 'items/s': '' },
          ],
          notes: [
            `${n.toLocaleString('en')} CSV rows (${(up.bytes / 1e6).toFixed(1)} MB, chunked upload); job ${job.status}: ${job.counts.succeeded} succeeded, ${job.counts.failed} failed`,
            `server-side timings: upload ${Math.round(Number(server.rows[0]!.upload_ms))} ms, processing ${Math.round(Number(server.rows[0]!.processing_ms))} ms`,
            `CPU: control plane ${cpu.cp.toFixed(1)} s (max RSS ${Math.round(rssMax / 1048576)} MB), its Postgres backends ≈ ${cpu.pg.toFixed(1)} s, node ${cpu.node.toFixed(1)} s; load average ${loadavg()[0]!.toFixed(1)} at the end (2 cores shared with everything else)`,
            `node sync during the run: ${nodeSync('applied_entries_total')} KV entries in ${nodeSync('transactions_total')} LMDB transactions (${(cpu.node * 1e6 / Math.max(1, nodeSync('applied_entries_total'))).toFixed(1)} µs of node CPU per entry), live updates ${nodeSync('live_applied_total')} applied / ${nodeSync('live_ignored_total')} ignored, ${nodeSync('kv_superseded_total')} KV entries superseded`,
            `redirects to a live link during the run: ${red.count} at 200/s, p50 ${(red.summary.p50 / 1000).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${(red.summary.max / 1000).toFixed(1)} ms, ${red.errors} errors`,
            `${samples} random links fetched from the node after the run: ${wrong} wrong`,
            `floor: COPY of ${n.toLocaleString('en')} rows into a links-shaped table (all its indexes) ${s(floor.ms)} s, its backend's CPU ${floor.pgCpu.toFixed(1)} s; the run is ${(total / floor.ms).toFixed(1)} × the floor, its CPU (CP + PG + node) ${((cpu.cp + cpu.pg + cpu.node) / Math.max(0.01, floor.pgCpu)).toFixed(1)} × the floor's`,
          ],
          targets: [
            { name: 'first byte → all served (s)', value: total / 1000, target: 60, op: '<=' },
            { name: 'first byte → all served / COPY floor', value: total / floor.ms, target: 5, op: '<=' },
            { name: 'control-plane RSS (MB)', value: Math.round(rssMax / 1048576), target: 512, op: '<=' },
            // --quick runs on busy CI machines: it only catches a gross regression of the node under bulk load
            { name: 'redirect p99 during the run (ms)', value: p99, target: opts.quick ? 100 : 5, op: '<=' },
            { name: 'sampled links not served right', value: wrong + red.errors, target: 0, op: '<=' },
          ],
        };
        return { build, totalS: total / 1000, floorS: floor.ms / 1000, cp: cpu.cp, pg: cpu.pg, node: cpu.node, result };
      } finally {
        await node.stop();
      }
    } finally {
      await db.end();
      await cp.close();
    }
  } finally {
    await nats.destroy();
    rmSync(lmdb, { recursive: true, force: true });
  }
}

export async function run(opts: ScenarioOptions): Promise<ScenarioResult> {
  const base = process.env.BENCH_BASELINE_DIST;
  if (!base) return (await runOnce(opts, 'this build', undefined)).result;
  const pairs = Number(process.env.BENCH_BULK_ROUNDS ?? 1);
  const rounds: Round[] = [];
  for (let i = 0; i < pairs; i++) {
    const order: [string, string | undefined][] = i % 2 === 0
      ? [['baseline', base], ['this build', undefined], ['this build', undefined], ['baseline', base]]
      : [['this build', undefined], ['baseline', base], ['baseline', base], ['this build', undefined]];
    for (const [build, dist] of order) rounds.push(await runOnce(opts, build, dist));
  }
  const mine = rounds.filter((r) => r.build === 'this build').sort((a, b) => a.totalS - b.totalS);
  const median = mine[Math.floor((mine.length - 1) / 2)]!;
  const med = (build: string, f: (r: Round) => number) => {
    const v = rounds.filter((r) => r.build === build).map(f).sort((a, b) => a - b);
    return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
  };
  const line = (build: string) =>
    `${build} (median of ${rounds.filter((r) => r.build === build).length}): total ${med(build, (r) => r.totalS).toFixed(1)} s, ${med(build, (r) => r.totalS / r.floorS).toFixed(1)} × its floor; CPU control plane ${med(build, (r) => r.cp).toFixed(1)} s, Postgres ${med(build, (r) => r.pg).toFixed(1)} s, node ${med(build, (r) => r.node).toFixed(1)} s`;
  return {
    ...median.result,
    notes: [
      ...(median.result.notes ?? []),
      `builds alternated in this run (BENCH_BASELINE_DIST=${base}), rounds in order:`,
      ...rounds.map((r, i) => `  ${i + 1}. ${r.build}: total ${r.totalS.toFixed(1)} s, floor ${r.floorS.toFixed(1)} s (${(r.totalS / r.floorS).toFixed(1)} ×), CPU control plane ${r.cp.toFixed(1)} s, Postgres ${r.pg.toFixed(1)} s, node ${r.node.toFixed(1)} s`),
      line('baseline'),
      line('this build'),
    ],
  };
}
