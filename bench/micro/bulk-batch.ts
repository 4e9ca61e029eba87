/**
 * Where a bulk import's CPU goes, phase by phase and statement by statement, in the control plane
 * and its Postgres: the bulk bench's CSV (upsert of fresh links) uploaded to a fresh database
 * (phase `upload`: the streamed COPY into job_items), its batches run one after another by
 * `runNextBatch` (phase `batches`: one worker, no relay, no node), then the outbox published to
 * the KV bucket by a relay (phase `relay`: `drainOnce`, RELAY_BATCH rows a read, on the shared
 * NATS). Every statement's backend CPU (/proc/<pid>/stat of the connection's backend, before and
 * after it) is summed by statement, per link; the control plane's own CPU per link is
 * `process.cpuUsage` over the phase. Then the floor: the same rows COPYed into a table of the links
 * table's shape (every index), as the bench measures it.
 *
 *   npx tsx bench/micro/bulk-batch.ts [links=20000]
 *
 * /proc counts in 10 ms ticks: use enough links (≥ 20 000) for the statements to add up. Compare
 * within one run; the machine is shared. BENCH_PHASES=batches prints only the batch phase's report;
 * BENCH_EXPLAIN=1 runs the first batch's write statement under EXPLAIN (ANALYZE, BUFFERS, WAL).
 */
import { readFileSync } from 'node:fs';
import { cpuUsage } from 'node:process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createLogger } from '../../shared/index.js';
import { runNextBatch } from '../../control-plane/jobs/process-batch.js';
import { createDomain, createHarness } from '../../control-plane/test/harness.js';

const N = Number(process.argv[2] ?? 20_000);
const HOST = 'go.bench-bulk.example.com';
const TICK = 100; // USER_HZ

function backendCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

const label = (q: unknown): string => {
  const o = q as { name?: string; text?: string } | string;
  const text = typeof o === 'string' ? o : (o.name ?? o.text ?? '?');
  return text.replace(/\s+/g, ' ').slice(0, 60);
};

let explainLeft = Number(process.env.BENCH_EXPLAIN ?? 0);
const steps = new Map<string, { calls: number; pg: number }>();
const add = (k: string, s: number) => {
  const e = steps.get(k) ?? { calls: 0, pg: 0 };
  e.calls++;
  e.pg += s;
  steps.set(k, e);
};

// every statement of every client: the backend's CPU across it
const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: pg.Client & { processID?: number }, ...args: unknown[]) {
  const pid = this.processID;
  if (!pid) return original.apply(this, args);
  const k = label(args[0]);
  if (typeof args[args.length - 1] === 'function') {
    // pool.query() passes a callback
    const cb = args.pop() as (...r: unknown[]) => void;
    const t0 = backendCpu(pid);
    return original.apply(this, [...args, (...r: unknown[]) => {
      add(k, backendCpu(pid) - t0);
      cb(...r);
    }]);
  }
  const q = args[0] as { name?: string; text?: string; values?: unknown[] };
  if (explainLeft > 0 && typeof q === 'object' && q.name?.startsWith('link_bulk_write_')) {
    // BENCH_EXPLAIN=n: the first n batches' write statement runs under EXPLAIN ANALYZE (plan printed)
    explainLeft--;
    return (async () => {
      const staged = (await original.call(this, 'SELECT count(*)::int AS n FROM link_bulk_stage') as { rows: { n: number }[] }).rows[0]!.n;
      const plan = await original.call(this, `EXPLAIN (ANALYZE, BUFFERS, WAL) ${q.text!}`, q.values) as { rows: { 'QUERY PLAN': string }[] };
      console.log(plan.rows.map((r) => r['QUERY PLAN']).join('\n'));
      return { rows: [{ written: staged }] };
    })();
  }
  const t0 = backendCpu(pid);
  const r = original.apply(this, args) as { then?: unknown; on?: (e: string, f: () => void) => void };
  if (typeof r?.then === 'function') {
    return (r as Promise<unknown>).finally(() => add(k, backendCpu(pid) - t0));
  }
  r?.on?.('finish', () => add(k, backendCpu(pid) - t0));
  return r;
};

const h = await createHarness('micro_bulk_batch');
const PHASES = new Set((process.env.BENCH_PHASES ?? 'upload,batches,relay').split(','));
const RELAY_BATCH = Number(process.env.RELAY_BATCH ?? 5000);

/** Runs `fn`, then prints its control-plane CPU and its statements' Postgres CPU per link. */
async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  steps.clear();
  const c0 = cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const wall = performance.now() - t0;
  const c = cpuUsage(c0);
  const cp = (c.user + c.system) / 1e6;
  const rows = [...steps].sort((a, b) => b[1].pg - a[1].pg);
  const pgTotal = rows.reduce((s, [, v]) => s + v.pg, 0);
  if (PHASES.has(name)) {
    console.log(`[${name}] ${N} links, ${(wall / 1000).toFixed(1)} s wall; control plane ${((cp * 1e6) / N).toFixed(1)} µs/link (with this tool's /proc reads), Postgres ${((pgTotal * 1e6) / N).toFixed(1)} µs/link`);
    for (const [k, v] of rows) console.log(`${((v.pg * 1e6) / N).toFixed(1).padStart(7)} µs/link  ${String(v.calls).padStart(5)}×  ${k}`);
  }
  return r;
}

try {
  await createDomain(h, HOST);
  let csv = 'domain,path,destination_url,tags,utm_source,utm_medium,utm_campaign\n';
  for (let i = 0; i < N; i++) csv += `${HOST},sku-${i},https://shop.example.com/p/${i},catalog|2026,catalog,pim,spring_26\n`;
  await phase('upload', async () => {
    const up = await h.req({ method: 'POST', url: '/v1/links/bulk?operation=upsert', payload: csv, headers: { 'content-type': 'text/csv' } });
    if (up.statusCode !== 202) throw new Error(`upload ${up.statusCode} ${up.body}`);
  });

  const log = createLogger({ name: 'micro', level: 'warn' });
  const batches = await phase('batches', async () => {
    let n = 0;
    while (await runNextBatch({ pool: h.pool, log, scheme: 'https', maxAttempts: 5 })) n++;
    return n;
  });
  console.log(`(${batches} batches)`);
  if (PHASES.has('relay')) {
    const relay = await h.relay({ batchSize: RELAY_BATCH });
    const published = await phase('relay', () => relay.drainOnce());
    console.log(`(relay: ${published} outbox rows published, ${RELAY_BATCH} a read)`);
  }

  // the floor: the same rows into a links-shaped table with every index, one COPY
  const db = new pg.Client({ connectionString: h.db.url });
  await db.connect();
  const ids = (await db.query<{ workspace_id: string; id: string; key_id: string; pid: number }>(
    `SELECT workspace_id, id, (SELECT id FROM api_keys ORDER BY created_at LIMIT 1) AS key_id, pg_backend_pid() AS pid FROM domains WHERE hostname = $1`, [HOST],
  )).rows[0]!;
  await db.query('CREATE TABLE floor_links (LIKE links INCLUDING ALL)');
  const utm = JSON.stringify({ source: 'catalog', medium: 'pim', campaign: 'spring_26' });
  let data = '';
  for (let i = 0; i < N; i++) data += `ln_FLOOR${String(i).padStart(21, '0')}\t${ids.workspace_id}\t${ids.id}\t${HOST}\tsku-${i}\thttps://shop.example.com/p/${i}\t${utm}\t{catalog,2026}\t${ids.key_id}\n`;
  const f0 = backendCpu(ids.pid);
  await pipeline(Readable.from([data]), db.query(copyFrom('COPY floor_links (id, workspace_id, domain_id, domain, path, destination_url, utm, tags, created_by) FROM STDIN')));
  console.log(`floor: COPY into a links-shaped table ${(((backendCpu(ids.pid) - f0) * 1e6) / N).toFixed(1)} µs/link`);
  await db.end();
} finally {
  await h.close();
}
