/**
 * `api`: the control plane under a fixed offered rate of 500 req/s (50 with --quick) (open loop: requests are sent
 * on schedule whatever the latency, a slow answer cannot slow the offered rate down), one run per
 * kind:
 * - reads: GET /v1/links/{id} (half), GET /v1/links?limit=20 (a quarter), GET /v1/links filtered by
 *   domain + tag (a quarter), over 2 000 seeded links;
 * - creates: POST /v1/links with an Idempotency-Key, a new path each;
 * - updates: PATCH /v1/links/{id} of the seeded links.
 * Targets (design §5): p95 ≤ 20 ms for reads, ≤ 50 ms for single writes.
 *
 * The control plane (dist/, own database, a private nats-server so the relay really publishes)
 * is pinned to the server core; Postgres runs where the OS puts it. Besides the control plane's
 * CPU per request (the table), the CPU of the database's Postgres backends per request is
 * reported: on this machine it is the larger share (a note per case).
 *
 * The floor (issue 17): one prepared statement that inserts a link with its outbox, event and audit
 * rows (a multi-row INSERT chain, autocommit), repeated on one connection; the Postgres backend's CPU
 * per statement, read the same way. Creates and updates are reported as (control plane + Postgres)
 * CPU per request ÷ that floor — at the offered rate, and in a closed loop (8 connections) run after
 * it, where the planes' idle loops (relay, dispatcher, job worker polls) are spread over as many
 * requests as the plane answers rather than over 50 or 500 a second. With BENCH_BASELINE_DIST=<another build's dist>, that build's control
 * plane runs the same cases in the same run (before/after).
 */
import pg from 'pg';
import { cpuSecondsOf } from '../lib/proc-stat.js';
import { cpuSecondsOfAll } from '../lib/proc-stat.js';
import { startNatsServer } from '../../shared/testing/index.js';
import { startBenchControlPlane } from '../lib/control-plane.js';
import { cpuPlan } from '../lib/cpu-pin.js';
import type { RequestTemplate } from '../lib/http-load.js';
import { latencyNiceNotes, loadRow, measure, worstWindowsNote, type ServerUnderTest } from '../lib/measure.js';
import type { LoadResult } from '../lib/http-load.js';
import type { ScenarioOptions, ScenarioResult } from '../lib/scenario.js';

const HOST = 'go.bench-api.example.com';
const PREFIX = 'lpbapi';

interface PlaneResult {
  r: LoadResult;
  c: LoadResult;
  u: LoadResult;
  /** Postgres backends' CPU µs per request: reads, creates, updates. */
  pg: [number, number, number];
  /** Postgres CPU µs per floor statement (one link + outbox + event + audit rows). */
  floorUs: number;
  /** Closed loop (saturation: the idle loops' CPU spread over as many requests as the plane answers): creates, updates. */
  sat: [LoadResult, LoadResult];
  /** Postgres backends' CPU µs per request in the closed-loop runs: creates, updates. */
  satPg: [number, number];
  /** Postgres transactions committed per request in the closed-loop runs (the request's own and the loops' it wakes): creates, updates. */
  satXacts: [number, number];
  seedSeconds: number;
}

/**
 * The floor statement: one link with its outbox, event and audit rows in one prepared INSERT chain,
 * `n` times on one connection (autocommit, as a single-statement write commits); its backend's CPU
 * per statement in µs. Values are shaped like the API's (a real compiled payload and event body).
 */
async function floorUsPerStatement(url: string, n: number): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const d = (await c.query<{ id: string; workspace_id: string; hostname: string }>('SELECT id, workspace_id, hostname FROM domains LIMIT 1')).rows[0]!;
    const payload = (await c.query<{ payload: Buffer }>(`SELECT payload FROM link_outbox WHERE op = 'put' ORDER BY seq DESC LIMIT 1`)).rows[0]?.payload ?? Buffer.alloc(300);
    const data = (await c.query<{ data: unknown }>(`SELECT data FROM events WHERE type = 'link.created' LIMIT 1`)).rows[0]?.data ?? {};
    const text = `WITH l AS (
        INSERT INTO links (id, workspace_id, created_by, domain_id, domain, path, destination_url, tags)
        VALUES ($1, $2, NULL, $3, $4, $5, $6, $7) RETURNING id),
      o AS (INSERT INTO link_outbox (kv_key, op, payload) SELECT $8, 'put', $9 FROM l),
      e AS (INSERT INTO events (id, workspace_id, type, occurred_at, data) SELECT gen_random_uuid(), $2, 'link.created', now(), $10 FROM l),
      a AS (INSERT INTO audit_log (id, workspace_id, actor_type, action, resource_type, resource_id, request_id, ip, user_agent, changes)
            SELECT $11, $2, 'api_key', 'link.create', 'link', l.id, 'req-floor', '127.0.0.1', 'bench', $12 FROM l)
      SELECT 1`;
    const run = (i: number) => c.query({
      name: 'floor_link_write',
      text,
      values: [`ln_floor_${i}`, d.workspace_id, d.id, d.hostname, `floor-${i}`, `https://www.example.com/floor/${i}?ref=bench`, ['bench', 'new'],
        `floor-key-${i}`, payload, JSON.stringify(data), `aud_floor_${i}`, JSON.stringify({ domain: d.hostname, path: `floor-${i}` })],
    });
    const warm = Math.min(200, n);
    for (let i = 0; i < warm; i++) await run(i);
    const cpu0 = cpuSecondsOf(pid);
    for (let i = warm; i < warm + n; i++) await run(i);
    return ((cpuSecondsOf(pid) - cpu0) * 1e6) / n;
  } finally {
    await c.end();
  }
}

async function benchPlane(opts: ScenarioOptions, label: string, natsUrl: string, cpus: string | null, dist?: string): Promise<PlaneResult> {
  const seedCount = opts.quick ? 300 : 2000;
  // quick (CI, a busy machine): a smoke check at a rate any box sustains
  const rate = opts.quick ? 50 : 500;
  const cp = await startBenchControlPlane({ label, natsUrl, prefix: `${PREFIX}${label.replace(/[^a-z]/g, '')}`, cpus, ...(dist ? { dist } : {}) });
  try {
    const d = await cp.call('POST', '/v1/domains', { hostname: HOST });
    if (d.status !== 201) throw new Error(`POST /v1/domains → ${d.status} ${JSON.stringify(d.json)}`);
    const ids: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < seedCount; i += 16) {
      const batch = await Promise.all(Array.from({ length: Math.min(16, seedCount - i) }, (_, k) => cp.call('POST', '/v1/links', {
        domain: HOST,
        path: `seed-${i + k}`,
        destination_url: `https://www.example.com/seed/${i + k}?ref=bench`,
        tags: ['bench', `t${(i + k) % 10}`],
      })));
      for (const r of batch) {
        if (r.status !== 201) throw new Error(`seeding: POST /v1/links → ${r.status} ${JSON.stringify(r.json)}`);
        ids.push(String(r.json.id));
      }
    }
    const seedSeconds = (performance.now() - t0) / 1000;
    const auth = { authorization: `Bearer ${cp.key}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const reads: RequestTemplate[] = [
      ...ids.map((id) => ({ method: 'GET', path: `/v1/links/${id}`, headers: auth })),
      ...Array.from({ length: ids.length / 2 }, () => ({ method: 'GET', path: '/v1/links?limit=20', headers: auth })),
      ...Array.from({ length: ids.length / 2 }, (_, i) => ({ method: 'GET', path: `/v1/links?domain=${HOST}&tag=t${i % 10}&limit=20`, headers: auth })),
    ];
    const creates: RequestTemplate[] = [{
      method: 'POST',
      path: '/v1/links',
      headers: { ...json, 'idempotency-key': 'bench-{run}-{seq}' },
      body: `{"domain":"${HOST}","path":"w-{run}-{seq}","destination_url":"https://www.example.com/w/{seq}?ref=bench","tags":["bench","new"]}`,
    }];
    const updates: RequestTemplate[] = ids.map((id) => ({
      method: 'PATCH',
      path: `/v1/links/${id}`,
      headers: json,
      body: '{"destination_url":"https://www.example.com/u/{seq}?ref=bench"}',
    }));
    const server: ServerUnderTest = { name: 'control plane', port: cp.port, pids: () => [cp.proc.pid] };
    const spec = (requests: RequestTemplate[], expect: number[]) => ({
      warmupMs: opts.quick ? 1000 : 2000,
      durationMs: opts.quick ? 3000 : 20_000,
      connections: 32,
      mode: { kind: 'open' as const, rate },
      requests,
      expect,
      timeoutMs: 10_000,
    });
    // a fresh Node process runs its first thousands of requests in the interpreter and baseline
    // tiers (~2 ms of CPU per GET here, ~0.7 ms once optimized): warm every route up closed-loop first
    const warm = (requests: RequestTemplate[]) => measure(server, {
      warmupMs: 0, durationMs: opts.quick ? 2000 : 8000, connections: 8, mode: { kind: 'closed', pipelining: 1 }, requests,
    });
    await warm(reads);
    await warm(creates);
    await warm(updates);
    // CPU of the bench database's Postgres backends around one run (backends that appear during
    // it count whole); per request over the warm-up and the measured window together
    const admin = new pg.Client({ connectionString: cp.db.url });
    await admin.connect();
    const backends = async () =>
      (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')).rows.map((x) => x.pid);
    const pgCpu: number[] = [];
    const withPg = async (run: () => Promise<LoadResult>, share = (x: LoadResult) => { const s = spec([], []); return x.completed * ((s.warmupMs + s.durationMs) / s.durationMs); }): Promise<LoadResult> => {
      const before = await backends();
      const cpu0 = cpuSecondsOfAll(before);
      const x = await run();
      const born = (await backends()).filter((pid) => !before.includes(pid));
      const sent = share(x);
      pgCpu.push(sent > 0 ? ((cpuSecondsOfAll(before) - cpu0 + cpuSecondsOfAll(born)) * 1e6) / sent : NaN);
      return x;
    };
    // saturation: closed loop, no warm-up inside the window (the routes are warm by now)
    const closed = (requests: RequestTemplate[], expect: number[]) => measure(server, {
      warmupMs: 0, durationMs: opts.quick ? 4000 : 10_000, connections: 8, mode: { kind: 'closed', pipelining: 1 }, requests, expect, timeoutMs: 10_000,
    });
    // commits of the bench database around a closed-loop run, per request; backends flush their
    // counts at most once a second, so each reading waits that out first
    const commits = async () => {
      await new Promise((r) => setTimeout(r, 1500));
      return Number((await admin.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.n);
    };
    const satXacts: number[] = [];
    const counted = async (run: () => Promise<LoadResult>): Promise<LoadResult> => {
      const x0 = await commits();
      const x = await run();
      satXacts.push(x.completed > 0 ? Math.round(((await commits()) - x0) / x.completed * 100) / 100 : NaN);
      return x;
    };
    let r: LoadResult;
    let c: LoadResult;
    let u: LoadResult;
    let sat: [LoadResult, LoadResult];
    try {
      r = await withPg(() => measure(server, spec(reads, [200])));
      c = await withPg(() => measure(server, spec(creates, [201])));
      u = await withPg(() => measure(server, spec(updates, [200])));
      sat = [
        await counted(() => withPg(() => closed(creates, [201]), (x) => x.completed)),
        await counted(() => withPg(() => closed(updates, [200]), (x) => x.completed)),
      ];
    } finally {
      await admin.end();
    }
    const floorUs = await floorUsPerStatement(cp.db.url, opts.quick ? 2000 : 10_000);
    const [pgR, pgC, pgU, pgSc, pgSu] = pgCpu.map((v) => Math.round(v)) as [number, number, number, number, number];
    return { r, c, u, pg: [pgR, pgC, pgU], floorUs, seedSeconds, sat, satPg: [pgSc, pgSu], satXacts: [satXacts[0] ?? NaN, satXacts[1] ?? NaN] };
  } finally {
    await cp.close();
  }
}

const cpuPerReq = (x: LoadResult): number => x.serverCpuUsPerRequest ?? NaN;
const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The rows of one build: its three load rows, Postgres CPU, CP + PG per write and the ratio to the floor. */
function planeRows(p: PlaneResult, build: string, seedCount: number): Record<string, number | string>[] {
  const server = build ? `control plane (${build})` : 'control plane';
  const [pgR, pgC, pgU] = p.pg;
  const cAll = cpuPerReq(p.c) + pgC;
  const uAll = cpuPerReq(p.u) + pgU;
  return [
    loadRow('reads: get by id / list / filtered list', server, p.r),
    loadRow('creates: POST /v1/links + Idempotency-Key', server, p.c),
    loadRow('updates: PATCH /v1/links/{id}', server, p.u),
    { case: `${build ? `${build}: ` : ''}seed ${seedCount} links through the API (16 at a time), s`, value: Math.round(p.seedSeconds * 10) / 10 },
    { case: `${build ? `${build}: ` : ''}Postgres backends CPU µs/req ≈ reads / creates / updates`, value: `${pgR} / ${pgC} / ${pgU}` },
    { case: `${build ? `${build}: ` : ''}floor: one INSERT chain (link + outbox + event + audit), Postgres CPU µs/statement`, value: Math.round(p.floorUs) },
    { case: `${build ? `${build}: ` : ''}CPU µs (CP + PG) per create / per update`, value: `${Math.round(cAll)} / ${Math.round(uAll)}` },
    { case: `${build ? `${build}: ` : ''}× floor: create / update (CP + PG); PG alone`, value: `${round2(cAll / p.floorUs)} / ${round2(uAll / p.floorUs)}; ${round2(pgC / p.floorUs)} / ${round2(pgU / p.floorUs)}` },
    ...satRows(p, build),
  ];
}

/** The closed-loop (saturation) rows: req/s and CPU per create and update with the idle loops amortized. */
function satRows(p: PlaneResult, build: string): Record<string, number | string>[] {
  const b = build ? `${build}: ` : '';
  const [sc, su] = p.sat;
  const [pc, pu] = p.satPg;
  const cAll = cpuPerReq(sc) + pc;
  const uAll = cpuPerReq(su) + pu;
  return [
    { case: `${b}closed loop (8 connections): creates/s / updates/s`, value: `${Math.round(sc.rps)} / ${Math.round(su.rps)}` },
    { case: `${b}closed loop: CPU µs CP / PG per create; per update`, value: `${Math.round(cpuPerReq(sc))} / ${pc}; ${Math.round(cpuPerReq(su))} / ${pu}` },
    { case: `${b}closed loop: × floor create / update (CP + PG)`, value: `${round2(cAll / p.floorUs)} / ${round2(uAll / p.floorUs)}` },
    { case: `${b}closed loop: Postgres commits per create / per update`, value: `${p.satXacts[0]} / ${p.satXacts[1]}` },
  ];
}

export async function run(opts: ScenarioOptions): Promise<ScenarioResult> {
  const seedCount = opts.quick ? 300 : 2000;
  const rate = opts.quick ? 50 : 500;
  const baseDist = process.env.BENCH_BASELINE_DIST;
  const nats = await startNatsServer();
  try {
    const plan = cpuPlan();
    // the baseline build first, then this one: same machine, same run (compare ratios, the load drifts)
    const base = baseDist ? await benchPlane(opts, 'apibase', nats.url, plan.server, baseDist) : null;
    const now = await benchPlane(opts, 'api', nats.url, plan.server);
    const { r, c, u } = now;
    const errors = [r, c, u, ...now.sat].reduce((n, x) => n + x.errors + x.timeouts + x.unexpected, 0);
    return {
      rows: [...(base ? planeRows(base, 'baseline', seedCount) : []), ...planeRows(now, base ? 'this build' : '', seedCount)],
      notes: [
        ...latencyNiceNotes(),
        worstWindowsNote('reads', r),
        worstWindowsNote('creates', c),
        worstWindowsNote('updates', u),
        `control plane from dist/ pinned to CPU ${plan.server ?? 'none'}, default settings (pool 20, relay, job and webhook workers on), rate limits raised; Postgres unpinned`,
        'latency counts from the scheduled send time when a request had to wait for a free connection (no coordinated omission)',
        `every route warmed up closed-loop (8 connections, ${opts.quick ? 2 : 8} s each) before the measured runs: V8 needs thousands of requests to optimize the request path`,
        `closed loop: creates, then updates, ${opts.quick ? 4 : 10} s each on 8 connections after the fixed-rate runs; CPU per request over the requests answered (the idle loops amortized)`,
        'floor: one prepared INSERT chain per link (link + outbox + event + audit rows, autocommit) on one connection, after the load runs, in the same database; creates also write and complete an idempotency row',
        ...(base ? [`baseline: ${baseDist} measured first, then this build, one after the other in this run`] : []),
      ],
      targets: [
        { name: 'reads p95 (ms)', value: r.latencyUs.p95 / 1000, target: 20, op: '<=' },
        { name: 'creates p95 (ms)', value: c.latencyUs.p95 / 1000, target: 50, op: '<=' },
        { name: 'updates p95 (ms)', value: u.latencyUs.p95 / 1000, target: 50, op: '<=' },
        { name: 'offered rate achieved (%)', value: Math.round((1000 * Math.min(r.rps, c.rps, u.rps)) / rate) / 10, target: 98, op: '>=' },
        { name: 'errors + unexpected statuses', value: errors, target: 0, op: '<=' },
      ],
    };
  } finally {
    await nats.destroy();
  }
}
