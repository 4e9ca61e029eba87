/**
 * What reacts to an API write (issue 17): the statements every loop of a control plane sends per
 * create and per update, counted at the driver inside the control plane (count-queries.cjs,
 * preloaded), and the database's commits per request — closed loop (8 connections), the bench's
 * control plane (dist/, relay + live lane + webhook workers + job worker on, a private nats-server).
 *
 *   npm run build && node dist/bench/micro/api-reactions.js [seconds=4] [baseline dist] [endpoint]
 *
 * With a baseline dist, that build runs first, then this one (compare within one run). With
 * `endpoint`, the workspace has a webhook endpoint subscribed to link.* (so events are fanned out).
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { startNatsServer } from '../../shared/testing/index.js';
import { startBenchControlPlane } from '../lib/control-plane.js';
import { cpuPlan } from '../lib/cpu-pin.js';
import { cpuSecondsOf, cpuSecondsOfAll } from '../lib/proc-stat.js';
import type { RequestTemplate } from '../lib/http-load.js';
import { measure, type ServerUnderTest } from '../lib/measure.js';

const SECONDS = Number(process.argv[2] ?? 4);
const BASE = process.argv[3] && process.argv[3] !== '-' ? process.argv[3] : null;
const ENDPOINT = process.argv[4] === 'endpoint';
const HOST = 'go.bench-react.example.com';
const PRELOAD = fileURLToPath(new URL('../../../bench/micro/count-queries.cjs', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function one(label: string, natsUrl: string, dist?: string): Promise<void> {
  const out = `/tmp/api-reactions-${label}-${process.pid}.json`;
  process.env.BENCH_NODE_ARGS = `--require ${PRELOAD}`;
  const cp = await startBenchControlPlane({
    label, natsUrl, prefix: `lpreact${label}`, cpus: cpuPlan().server, env: { COUNT_QUERIES_OUT: out, WEBHOOK_ALLOW_PRIVATE: 'true' }, ...(dist ? { dist } : {}),
  });
  try {
    if ((await cp.call('POST', '/v1/domains', { hostname: HOST })).status !== 201) throw new Error('domain');
    if (ENDPOINT) {
      const e = await cp.call('POST', '/v1/webhooks/endpoints', { url: 'https://127.0.0.1:9/hook', events: ['link.*'] });
      if (e.status !== 201) throw new Error(`endpoint → ${e.status} ${JSON.stringify(e.json)}`);
    }
    const ids: string[] = [];
    for (let i = 0; i < 300; i += 16) {
      const batch = await Promise.all(Array.from({ length: 16 }, (_, k) => cp.call('POST', '/v1/links', { domain: HOST, path: `seed-${i + k}`, destination_url: `https://www.example.com/s/${i + k}` })));
      for (const r of batch) ids.push(String(r.json.id));
    }
    const json = { authorization: `Bearer ${cp.key}`, 'content-type': 'application/json' };
    const creates: RequestTemplate[] = [{ method: 'POST', path: '/v1/links', headers: { ...json, 'idempotency-key': 'r-{run}-{seq}' },
      body: `{"domain":"${HOST}","path":"w-{run}-{seq}","destination_url":"https://www.example.com/w/{seq}?ref=bench","tags":["bench","new"]}` }];
    const updates: RequestTemplate[] = ids.map((id) => ({ method: 'PATCH', path: `/v1/links/${id}`, headers: json, body: '{"destination_url":"https://www.example.com/u/{seq}?ref=bench"}' }));
    const server: ServerUnderTest = { name: 'control plane', port: cp.port, pids: () => [cp.proc.pid] };
    const closed = (requests: RequestTemplate[], expect: number[], ms: number) =>
      measure(server, { warmupMs: 0, durationMs: ms, connections: 8, mode: { kind: 'closed', pipelining: 1 }, requests, expect, timeoutMs: 10_000 });
    await closed(creates, [201], 2000);
    await closed(updates, [200], 2000);
    const admin = new pg.Client({ connectionString: cp.db.url });
    await admin.connect();
    const commits = async () => {
      await sleep(1500);
      return Number((await admin.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.n);
    };
    const backends = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((x) => x.pid);
    const counts = async () => {
      process.kill(cp.proc.pid!, 'SIGUSR2');
      await sleep(300);
      return JSON.parse(readFileSync(out, 'utf8')) as Record<string, number>;
    };
    try {
      for (const [kind, reqs, status] of [['create', creates, 201], ['update', updates, 200]] as const) {
        const x0 = await commits();
        await counts();
        const pids = await backends();
        const pg0 = cpuSecondsOfAll(pids);
        const cp0 = cpuSecondsOf(cp.proc.pid!);
        const r = await closed([...reqs], [status], SECONDS * 1000);
        const cpCpu = cpuSecondsOf(cp.proc.pid!) - cp0;
        const pgCpu = cpuSecondsOfAll(pids) - pg0;
        await sleep(200);
        const c = await counts();
        const x = (await commits()) - x0;
        const n = r.completed;
        console.log(`\n[${label}] ${kind}: ${n} in ${SECONDS} s (${Math.round(n / SECONDS)}/s); CPU µs per ${kind}: CP ${Math.round((cpCpu * 1e6) / n)}, PG ${Math.round((pgCpu * 1e6) / n)}; commits per ${kind}: ${(x / n).toFixed(2)}; statements per ${kind}: ${(Object.values(c).reduce((a, b) => a + b, 0) / n).toFixed(2)}`);
        for (const [k, v] of Object.entries(c).sort((a, b) => b[1] - a[1])) console.log(`  ${(v / n).toFixed(3).padStart(7)}  ${k}`);
      }
    } finally {
      await admin.end();
    }
  } finally {
    await cp.close();
  }
}

const nats = await startNatsServer();
try {
  if (BASE) await one('base', nats.url, BASE);
  await one('this', nats.url);
} finally {
  await nats.destroy();
}
