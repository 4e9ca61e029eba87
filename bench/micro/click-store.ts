/**
 * Where click ingest's CPU goes, step by step: the bench's clicks (bench/scenarios/clicks.ts
 * traffic) decoded and stored with storeClicks into a fresh database, one connection, transactions
 * of `perTx` clicks; per step the Postgres backend's CPU (/proc/<pid>/stat) and this process's
 * CPU, per click. Then the rollup compactor folding what ingest appended, and the floor: the same
 * clicks binary-COPYed into a table of the clicks table's shape.
 *
 *   npx tsx bench/micro/click-store.ts [clicks=200000] [links=5000] [perTx=20000] [compactEvery=0]
 *
 * compactEvery = n > 0: a compaction round after every n transactions as well (the control plane
 * compacts every CLICK_ROLLUP_COMPACT_MS while it ingests, so a link-hour's rollup row is rewritten
 * once per round); 0: one compaction after the last transaction.
 *
 * /proc counts in 10 ms ticks: use enough clicks (≥ 200 000) for the steps to add up. Compare
 * steps within one run; the machine is shared.
 */
import { cpuUsage } from 'node:process';
import { decodeClickColumns, createLogger } from '../../shared/index.js';
import { createTestDatabase } from '../../shared/testing/index.js';
import { createPool } from '../../control-plane/db/pool.js';
import { migrate } from '../../control-plane/db/migrate.js';
import { ClickSet, dayOf, RollupCompactor, storeClicks } from '../../control-plane/ingest/index.js';
import { copyClickFloor, createClickFloorTable } from '../../control-plane/ingest/click-writer.js';
import { benchBatches, cpuSeconds } from '../scenarios/clicks.js';

const N = Number(process.argv[2] ?? 200_000);
const LINKS = Number(process.argv[3] ?? 5000);
const PER_TX = Number(process.argv[4] ?? 20_000);
const COMPACT_EVERY = Number(process.argv[5] ?? 0);

const db = await createTestDatabase('micro_click_store');
const pool = createPool(db.url, { max: 1 });
try {
  await migrate(pool, createLogger({ name: 'migrate', level: 'warn' }));
  const pid = (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const batches = [...benchBatches(N, LINKS)].map((b) => b.bytes);
  const cp = () => {
    const u = cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const steps = new Map<string, { pg: number; cp: number }>();
  const add = (name: string, pg: number, c: number) => {
    const s = steps.get(name) ?? { pg: 0, cp: 0 };
    s.pg += pg;
    s.cp += c;
    steps.set(name, s);
  };
  const sets = (): ClickSet[] => {
    const out: ClickSet[] = [];
    for (let i = 0; i < batches.length; i += PER_TX / 1000) {
      out.push(new ClickSet(batches.slice(i, i + PER_TX / 1000).map((b) => decodeClickColumns(b))));
    }
    return out;
  };
  let pgAt = cpuSeconds(pid);
  let cpAt = cp();
  const lap = (name: string) => {
    const pgNow = cpuSeconds(pid);
    const cpNow = cp();
    add(name, pgNow - pgAt, cpNow - cpAt);
    pgAt = pgNow;
    cpAt = cpNow;
  };
  const compactor = new RollupCompactor({ pool, log: createLogger({ name: 'compactor', level: 'warn' }), everyMs: 1_000_000 });
  const started = performance.now();
  let txs = 0;
  for (const set of sets()) {
    lap('decode + ClickSet');
    await storeClicks(pool, set, { subscriptions: new Map(), scheme: 'https', onPhase: (phase) => lap(phase) });
    lap('(after commit)');
    if (COMPACT_EVERY > 0 && ++txs % COMPACT_EVERY === 0) {
      await compactor.drain();
      lap('compactor (fold deltas into rollups)');
    }
  }
  const ingestSeconds = (performance.now() - started) / 1000;
  lap('-');
  await compactor.drain();
  lap('compactor (fold deltas into rollups)');

  const stats = (await pool.query<{ rel: string; n: string }>(
    `SELECT 'click_rollup_hours' AS rel, count(*)::text AS n FROM click_rollup_hours
     UNION ALL SELECT 'values in click_rollup_hours', coalesce(sum(cardinality(dims)), 0)::text FROM click_rollup_hours
     UNION ALL SELECT 'click_visitors', count(*)::text FROM click_visitors
     UNION ALL SELECT 'clicks', count(*)::text FROM clicks`,
  )).rows;

  await createClickFloorTable(pool, 'click_floor', [dayOf(Date.now()) - 1, dayOf(Date.now())]);
  lap('-');
  const floorStarted = performance.now();
  for (const set of sets()) {
    lap('floor: decode + ClickSet');
    await copyClickFloor(pool, 'click_floor', set);
    lap('floor: binary COPY (one tx)');
  }
  const floorSeconds = (performance.now() - floorStarted) / 1000;

  const us = (s: number) => ((s * 1e6) / N).toFixed(2);
  console.log(`clicks ${N}, links ${LINKS}, per transaction ${PER_TX}, compaction ${COMPACT_EVERY > 0 ? `every ${COMPACT_EVERY} transactions and ` : ''}at the end; ingest ${ingestSeconds.toFixed(1)} s, floor ${floorSeconds.toFixed(1)} s`);
  console.log(stats.map((r) => `${r.rel}: ${r.n} rows`).join(', '));
  console.table([...steps].filter(([k]) => k !== '-').map(([step, s]) => ({ step, 'PG µs/click': us(s.pg), 'CP µs/click': us(s.cp) })));
  let pgIngest = 0;
  let cpIngest = 0;
  let pgFloor = 0;
  let cpFloor = 0;
  for (const [k, s] of steps) {
    if (k === '-') continue;
    if (k.startsWith('floor')) {
      pgFloor += s.pg;
      cpFloor += s.cp;
    } else {
      pgIngest += s.pg;
      cpIngest += s.cp;
    }
  }
  console.log(`ingest (with compaction): PG ${us(pgIngest)} + CP ${us(cpIngest)} µs/click; floor: PG ${us(pgFloor)} + CP ${us(cpFloor)} µs/click; ratio ${((pgIngest + cpIngest) / (pgFloor + cpFloor)).toFixed(2)}`);
} finally {
  await pool.end();
  await db.drop();
}
