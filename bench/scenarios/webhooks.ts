/**
 * `webhooks` scenario (issue 5). A real control plane (dist/) delivers to a local receiver.
 *
 * 1. Throughput: a backlog of N events is committed at once; the fan-out turns them into
 *    deliveries and the dispatcher sends them to one endpoint. Deliveries/s from the commit to the
 *    N-th distinct Event-Id answered 2xx. Target: ≥ 1 000/s.
 * 2. Steady latency: events offered at a fixed rate; event occurred_at → receiver, p50/p99.
 * 3. Failures: the receiver fails 10 % of requests at random (half 500, half a dropped
 *    connection), events offered at a fixed rate, retry schedule compressed 60× (500ms, 2s, 10s,
 *    60s instead of 30s, 2m, 10m, 1h). Share of events delivered within 2 minutes of occurring.
 *    Target: > 99.9 %.
 *
 * Run alone: `npx tsx bench/scenarios/webhooks.ts [--quick]` (needs `npm run build` first).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { uuidToId } from '../../control-plane/ids.js';
import { cleanupNatsPrefix, createTestDatabase, freePort, sleep, startProcess, testPrefix, waitFor, waitForHttp } from '../../shared/testing/index.js';

export interface ScenarioResult {
  rows: Record<string, number | string>[];
  targets: { name: string; value: number; target: number; op: '<=' | '>=' }[];
  notes?: string[];
}

const KEY = 'lp_bench_webhooks_admin_key_0123456789abcdef';
const SCHEDULE = '500ms,2s,10s,60s'; // 30s,2m,10m,1h compressed 60×

interface Receiver {
  url: string;
  /** event id → ms when its first 2xx answer was sent */
  delivered: Map<string, number>;
  /** event id → occurred_at (ms) */
  occurred: Map<string, number>;
  requests: number;
  failRate: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const sockets = new Set<Socket>();
  const r: Receiver = { url: '', delivered: new Map(), occurred: new Map(), requests: 0, failRate: 0, close: async () => undefined };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.requests++;
      const roll = Math.random();
      if (roll < r.failRate / 2) {
        res.socket?.destroy();
        return;
      }
      if (roll < r.failRate) {
        res.writeHead(500);
        res.end();
        return;
      }
      const id = String(req.headers['event-id']);
      if (!r.delivered.has(id)) {
        r.delivered.set(id, Date.now());
        const env = JSON.parse(Buffer.concat(chunks).toString()) as { occurred_at: string };
        r.occurred.set(id, Date.parse(env.occurred_at));
      }
      res.writeHead(204);
      res.end();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  r.close = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return r;
}

/** Inserts events the way producers do (the outbox table + NOTIFY), `n` per transaction. */
async function insertEvents(pool: pg.Pool, workspaceId: string, n: number): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH ins AS (
       INSERT INTO events (id, workspace_id, type, occurred_at, data)
       SELECT gen_random_uuid(), $1, 'click.created', clock_timestamp(),
              jsonb_build_object('link_id', 'ln_bench', 'country', 'SG', 'device_class', 'mobile', 'i', g)
       FROM generate_series(1, $2) g
       RETURNING id)
     SELECT id::text FROM ins`,
    [workspaceId, n],
  );
  await pool.query(`SELECT pg_notify('linkplane_events', '')`);
  // deliveries carry the public form of the id (Event-Id: evt_…, docs/ids.md)
  return rows.map((r) => uuidToId('evt', r.id));
}

/** CPU ms (user + system) a process has used so far, from /proc (Linux). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return 0; // gone
  }
}

/** CPU ms of the control plane, its Postgres backends and this process (the receiver). */
async function cpuSnapshot(pool: pg.Pool, cpPid: number, db: string): Promise<{ cp: number; pg: Map<number, number>; rx: number }> {
  const { rows } = await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'linkplane-control-plane'`, [db]);
  const u = process.cpuUsage();
  return { cp: cpuMs(cpPid), pg: new Map(rows.map((r) => [r.pid, cpuMs(r.pid)])), rx: (u.user + u.system) / 1000 };
}

function cpuSpent(a: Awaited<ReturnType<typeof cpuSnapshot>>, b: Awaited<ReturnType<typeof cpuSnapshot>>) {
  let pgMs = 0;
  for (const [pid, ms] of b.pg) pgMs += ms - (a.pg.get(pid) ?? ms);
  return { cp: b.cp - a.cp, pg: pgMs, rx: b.rx - a.rx };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Offers `total` events at `perSec` (batches every 50 ms); returns their ids. */
async function offer(pool: pg.Pool, workspaceId: string, total: number, perSec: number): Promise<string[]> {
  const ids: string[] = [];
  const start = Date.now();
  while (ids.length < total) {
    const due = Math.min(total, Math.floor(((Date.now() - start) / 1000) * perSec) + 1);
    if (due > ids.length) ids.push(...(await insertEvents(pool, workspaceId, due - ids.length)));
    await sleep(50);
  }
  return ids;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const backlog = opts.quick ? 5_000 : 20_000;
  const steady = { perSec: 500, seconds: opts.quick ? 5 : 15 };
  const chaos = { perSec: opts.quick ? 200 : 500, seconds: opts.quick ? 10 : 30 };
  const db = await createTestDatabase('bench_webhooks');
  const prefix = testPrefix('benchwh');
  const port = await freePort();
  const opsPort = await freePort();
  const rx = await startReceiver();
  const pool = new pg.Pool({ connectionString: db.url, max: 3 });
  const cp = startProcess('control-plane/main.js', {
    PORT: String(port), OPS_PORT: String(opsPort), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY, LOG_LEVEL: 'warn', DB_POOL_MAX: '10',
    WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_WORKERS: process.env.BENCH_WEBHOOK_WORKERS ?? '64', WEBHOOK_RETRY_SCHEDULE: SCHEDULE, WEBHOOK_POLL_MS: '100',
  });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 200, 30_000);
    const res = await fetch(`http://127.0.0.1:${port}/v1/webhooks/endpoints`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: rx.url, events: ['click.*'], max_concurrency: 256 }),
    });
    if (res.status !== 201) throw new Error(`endpoint create: ${res.status} ${await res.text()}`);
    const { rows: ws } = await pool.query<{ id: string }>(`SELECT id FROM workspaces WHERE name = 'default'`);
    const workspaceId = ws[0]!.id;

    // warm-up (connections, JIT)
    await insertEvents(pool, workspaceId, 500);
    await waitFor('warm-up', () => rx.delivered.size >= 500, 60_000, 20);

    // 1. backlog throughput, and the CPU it cost (throughput depends on what else runs on the machine)
    const before = rx.delivered.size;
    const cpu0 = await cpuSnapshot(pool, cp.child.pid!, db.name);
    const t0 = performance.now();
    const backlogIds = await insertEvents(pool, workspaceId, backlog);
    await waitFor('backlog delivered', () => backlogIds.every((id) => rx.delivered.has(id)), 300_000, 10);
    const backlogSec = (performance.now() - t0) / 1000;
    const cpu = cpuSpent(cpu0, await cpuSnapshot(pool, cp.child.pid!, db.name));
    const cpuPerDelivery = (cpu.cp + cpu.pg + cpu.rx) / backlog;
    const perSec = backlog / backlogSec;
    const extra = rx.delivered.size - before - backlog;

    // 2. steady latency
    const steadyIds = await offer(pool, workspaceId, steady.perSec * steady.seconds, steady.perSec);
    await waitFor('steady delivered', () => steadyIds.every((id) => rx.delivered.has(id)), 60_000, 20);
    const lat = steadyIds.map((id) => rx.delivered.get(id)! - rx.occurred.get(id)!).sort((a, b) => a - b);

    // 3. 10 % failures, compressed schedule
    rx.failRate = 0.1;
    const requestsBefore = rx.requests;
    const chaosIds = await offer(pool, workspaceId, chaos.perSec * chaos.seconds, chaos.perSec);
    const lastOffered = Date.now();
    await waitFor('chaos settled', () => chaosIds.every((id) => rx.delivered.has(id)) || Date.now() - lastOffered > 125_000, 130_000, 100).catch(() => true);
    const within = chaosIds.filter((id) => {
      const at = rx.delivered.get(id);
      return at !== undefined && at - rx.occurred.get(id)! <= 120_000;
    }).length;
    const withinPct = (100 * within) / chaosIds.length;
    const chaosLat = chaosIds.filter((id) => rx.delivered.has(id)).map((id) => rx.delivered.get(id)! - rx.occurred.get(id)!).sort((a, b) => a - b);
    const { rows: dead } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'dead'`);
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    const metric = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
    const mean = (name: string, kind: string) =>
      metric(new RegExp(`^${name}_sum\\{kind="${kind}"\\} (\\S+)$`, 'm')) / metric(new RegExp(`^${name}_count\\{kind="${kind}"\\} (\\S+)$`, 'm'));
    const claimMs = 1000 * mean('linkplane_webhook_tick_duration_seconds', 'claim');
    const recordMs = 1000 * mean('linkplane_webhook_tick_duration_seconds', 'record');
    const perClaim = mean('linkplane_webhook_tick_size', 'claimed');
    const perRecord = mean('linkplane_webhook_tick_size', 'recorded');
    return {
      rows: [
        { measure: 'backlog: events committed at once', value: backlog },
        { measure: 'backlog: seconds to deliver all (fan-out + dispatch)', value: Number(backlogSec.toFixed(2)) },
        { measure: 'backlog: deliveries/s (1 endpoint, 64 in flight)', value: Math.round(perSec) },
        { measure: 'backlog: duplicate 2xx deliveries', value: extra },
        { measure: 'backlog: CPU µs per delivery, control plane', value: Math.round((1000 * cpu.cp) / backlog) },
        { measure: 'backlog: CPU µs per delivery, Postgres backends', value: Math.round((1000 * cpu.pg) / backlog) },
        { measure: 'backlog: CPU µs per delivery, receiver', value: Math.round((1000 * cpu.rx) / backlog) },
        { measure: 'backlog: deliveries/s the 2 cores could carry (2 s of CPU / CPU per delivery)', value: Math.round(2000 / cpuPerDelivery) },
        { measure: `steady ${steady.perSec}/s: event → receiver p50 ms`, value: percentile(lat, 50) },
        { measure: `steady ${steady.perSec}/s: event → receiver p99 ms`, value: percentile(lat, 99) },
        { measure: `10% failures, ${chaos.perSec}/s: events`, value: chaosIds.length },
        { measure: '10% failures: requests sent (incl. retries)', value: rx.requests - requestsBefore },
        { measure: '10% failures: delivered within 2 min (%)', value: Number(withinPct.toFixed(3)) },
        { measure: '10% failures: event → 2xx p99 ms', value: percentile(chaosLat, 99) },
        { measure: '10% failures: event → 2xx p99.9 ms', value: percentile(chaosLat, 99.9) },
        { measure: '10% failures: dead-lettered', value: dead[0]!.n },
        { measure: 'dispatcher: lease transaction mean ms', value: Number(claimMs.toFixed(2)) },
        { measure: 'dispatcher: deliveries per lease transaction', value: Number(perClaim.toFixed(1)) },
        { measure: 'dispatcher: record transaction mean ms', value: Number(recordMs.toFixed(2)) },
        { measure: 'dispatcher: attempts per record transaction', value: Number(perRecord.toFixed(1)) },
      ],
      targets: [
        { name: 'webhook deliveries/s to a local receiver', value: Math.round(perSec), target: 1000, op: '>=' },
        { name: 'webhooks delivered within 2 min with 10% failures (%)', value: Number(withinPct.toFixed(3)), target: 99.9, op: '>=' },
      ],
      notes: [`retry schedule compressed 60×: ${SCHEDULE}`, 'receiver, control plane and Postgres share the machine'],
    };
  } finally {
    await cp.stop();
    await rx.close();
    await pool.end();
    await db.drop();
    await cleanupNatsPrefix(prefix).catch(() => undefined);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  run({ quick }).then(
    (r) => {
      console.table(r.rows);
      for (const t of r.targets) {
        const ok = t.op === '>=' ? t.value >= t.target : t.value <= t.target;
        console.log(`${ok ? 'ok  ' : 'MISS'} ${t.name}: ${t.value} (target ${t.op} ${t.target})`);
      }
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
