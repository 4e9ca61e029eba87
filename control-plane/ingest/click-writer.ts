/**
 * Stores the clicks of a ClickSet in ONE Postgres transaction: raw rows, visitor sets, rollup
 * increments and webhook events, all counting only the clicks this transaction actually inserted.
 *
 * Raw rows go in with one COPY straight into `clicks`, sorted by link so index inserts stay local.
 * Almost always every click is new; if one is not (a batch redelivered after a crash, or re-sent
 * after the JetStream dedupe window), the COPY fails on the primary key, is rolled back to a
 * savepoint, and the same rows go through a staging table with `INSERT … ON CONFLICT DO NOTHING
 * RETURNING id` instead — so a click is stored, counted and announced exactly once either way.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Pool, PoolClient } from '../db/pool.js';
import { isUniqueViolation } from '../db/tx.js';
import { withClient } from './checkout.js';
import { emitEvents } from '../events/emit.js';
import { dayOf } from './click-partitions.js';
import { DIM_NAMES, rollupInto } from './click-rollup.js';
import { F, type ClickSet } from './click-set.js';
import { clickWebhookEvents } from './click-webhook-events.js';
import { BinaryCopyWriter, FieldDictionary, JsonbDictionary, textField } from './copy-binary.js';
import type { Subscriptions } from './event-subscribers.js';

const COLUMNS =
  'id, occurred_at, workspace_id, link_id, domain, path, destination, rule_id, variant_id, country, device, os, browser, referrer_host, language, bot, qr, utm, node_id, visitor_hash';
/** Text columns in COLUMNS order after (id, occurred_at), as ClickSet fields. */
const TEXT_FIELDS = [F.workspace, F.link, F.domain, F.path, F.destination, F.rule, F.variant, F.country, F.device, F.os, F.browser, F.referrer, F.language];

export interface StoreResult {
  /** Clicks inserted now. */
  inserted: number;
  /** Clicks that were already stored, or repeated within the set (skipped). */
  duplicates: number;
  /** Webhook event rows written. */
  events: number;
  /** 'copy' = fast path; 'merge' = some were duplicates. */
  path: 'copy' | 'merge';
  rollupRows: number;
}

export interface StoreOptions {
  /** Workspaces subscribed to click webhook events (empty: write none). */
  subscriptions: Subscriptions;
  /** Scheme of short URLs in event payloads. */
  scheme: string;
  /** Told how long each step took (ms): copy or merge, visitors: encode/stage/insert/truncate, rollups, events, commit. */
  onPhase?: (phase: string, ms: number) => void;
}

interface Dicts {
  text: FieldDictionary;
  jsonb: JsonbDictionary;
}

/** The raw rows in binary COPY format (COLUMNS order). */
function copyRows(set: ClickSet, d: Dicts, rows: Int32Array): Buffer[] {
  const w = new BinaryCopyWriter();
  const cols = TEXT_FIELDS.map((f) => set.cols[f]!);
  const utm = set.cols[F.utm]!;
  const node = set.cols[F.node]!;
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j]!;
    w.row(20).raw(set.ids, 16 * i, 16).timestamp(set.times[i]!);
    for (const c of cols) w.field(d.text.text(c[i]!));
    const fl = set.flags[i]!;
    w.bool((fl & 1) !== 0).bool((fl & 2) !== 0).field(d.jsonb.get(utm[i]!)).field(d.text.text(node[i]!)).raw(set.hashes, 16 * i, 16);
  }
  return w.finish();
}

async function copyInto(client: PoolClient, sql: string, chunks: readonly Uint8Array[]): Promise<void> {
  await pipeline(Readable.from(chunks), client.query(copyFrom(sql)));
}

/** Connections that already have the staging tables. */
const staged = new WeakSet<PoolClient>();

async function ensureStaging(client: PoolClient): Promise<void> {
  if (staged.has(client)) return;
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS click_stage (LIKE clicks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS click_visitor_stage (i int, k uuid, d date) ON COMMIT DELETE ROWS`);
  staged.add(client);
}

/** Inserts what is new through the staging table; returns the rows that were inserted. */
async function mergeInsert(client: PoolClient, set: ClickSet, rows: Int32Array, chunks: Buffer[]): Promise<Int32Array> {
  await copyInto(client, `COPY click_stage (${COLUMNS}) FROM STDIN (FORMAT binary)`, chunks);
  const { rows: ins } = await client.query<{ id: string }>(
    `INSERT INTO clicks (${COLUMNS}) SELECT ${COLUMNS} FROM click_stage
     ON CONFLICT (link_id, id, occurred_at) DO NOTHING RETURNING id`,
  );
  await client.query('TRUNCATE click_stage');
  const ids = new Set(ins.map((r) => r.id));
  return rows.filter((i) => ids.has(set.idText(i)));
}

/** md5 of link ids seen lately (the visitor key's link half), bounded. */
const linkDigests = new Map<string, Buffer>();

function linkDigest(linkId: string): Buffer {
  let d = linkDigests.get(linkId);
  if (d === undefined) {
    if (linkDigests.size >= 200_000) linkDigests.clear();
    d = createHash('md5').update(linkId).digest();
    linkDigests.set(linkId, d);
  }
  return d;
}

/**
 * click_visitors' key of each row (16 bytes each, in `rows` order): the visitor hash XOR md5(link
 * id) — linkplane_visitor_key() of migration 103.
 */
export function visitorKeys(set: ClickSet, rows: Int32Array): Buffer {
  const link = set.cols[F.link]!;
  const out = Buffer.allocUnsafe(16 * rows.length);
  let cur = -1;
  let dig: Buffer = Buffer.alloc(16);
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j]!;
    if (link[i] !== cur) {
      cur = link[i]!;
      dig = linkDigest(set.strings[cur]!);
    }
    for (let b = 0; b < 16; b++) out[16 * j + b] = set.hashes[16 * i + b]! ^ dig[b]!;
  }
  return out;
}

/**
 * Records (link, day, visitor) and returns, per row, 1 if it is its visitor's first counted
 * click of the day on that link (the earliest such row here, when the visitor was not known yet).
 */
async function markFirstVisits(client: PoolClient, set: ClickSet, rows: Int32Array, phase: (name: string) => void = () => undefined): Promise<Uint8Array> {
  const keys = visitorKeys(set, rows);
  const n = rows.length;
  // sorted by (key, day, row): one entry per (key, day) — its first row (rows of a link come in
  // time order) — and written in key order, so concurrent transactions lock visitor keys in the
  // same global order. The first 6 key bytes as a number decide almost every comparison.
  const head = new Float64Array(n);
  const day = new Int32Array(n);
  const order = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    head[j] = keys.readUIntBE(16 * j, 6);
    day[j] = dayOf(set.times[rows[j]!]!);
    order[j] = j;
  }
  order.sort((a, b) => head[a]! - head[b]! || keys.compare(keys, 16 * a + 6, 16 * a + 16, 16 * b + 6, 16 * b + 16) || day[a]! - day[b]! || a - b);
  const w = new BinaryCopyWriter();
  let prev = -1;
  for (let x = 0; x < n; x++) {
    const j = order[x]!;
    if (prev >= 0 && head[prev] === head[j] && day[prev] === day[j] && keys.compare(keys, 16 * prev + 6, 16 * prev + 16, 16 * j + 6, 16 * j + 16) === 0) continue;
    prev = j;
    w.row(3, 64).int4(j).raw(keys, 16 * j, 16).date(day[j]!);
  }
  phase('visitors: encode');
  await copyInto(client, 'COPY click_visitor_stage (i, k, d) FROM STDIN (FORMAT binary)', w.finish());
  phase('visitors: stage');
  // the rows that were new, as one bytea of 4-byte row numbers (not a result row each)
  const { rows: fresh } = await client.query<{ i: Buffer | null }>(
    `WITH ins AS (
       INSERT INTO click_visitors (visitor_key, day) SELECT k, d FROM click_visitor_stage
       ON CONFLICT DO NOTHING RETURNING visitor_key, day)
     SELECT string_agg(int4send(s.i), ''::bytea) AS i FROM ins JOIN click_visitor_stage s ON s.k = ins.visitor_key AND s.d = ins.day`,
  );
  phase('visitors: insert');
  await client.query('TRUNCATE click_visitor_stage');
  phase('visitors: truncate');
  const first = new Uint8Array(rows.length);
  const is = fresh[0]?.i;
  if (is) for (let o = 0; o < is.length; o += 4) first[is.readInt32BE(o)] = 1;
  return first;
}

/**
 * A delta row stops taking increments past this many bytes of dimension and value text, so it
 * stays below TOAST's ~2 kB threshold (a (link, hour, bot) group that holds more spans rows).
 */
const DELTA_ROW_TEXT_BYTES = 1500;

interface DeltaGroup {
  dims: Uint8Array[];
  vals: Uint8Array[];
  clicks: number[];
  visitors: number[];
  text: number;
}

/**
 * Appends the rollup increments of `rows` to click_rollup_deltas: one row per (link, hour, bot)
 * holding the group's increments as parallel arrays (migration 105). Returns the increments.
 */
async function appendRollupDeltas(client: PoolClient, set: ClickSet, d: Dicts, rows: Int32Array, first: Uint8Array): Promise<number> {
  const w = new BinaryCopyWriter();
  const dims = DIM_NAMES.map((name) => textField(name));
  // the increments of the current (link, hour) run, per bot flag (rollupInto emits run by run)
  const groups: DeltaGroup[] = [0, 1].map(() => ({ dims: [], vals: [], clicks: [], visitors: [], text: 0 }));
  let curLink = -1;
  let curHour = -1;
  let curWs = 0;
  const write = (bot: 0 | 1) => {
    const g = groups[bot]!;
    const n = g.clicks.length;
    if (n === 0) return;
    const link = d.text.text(curLink);
    const ws = d.text.text(curWs);
    w.row(8, link.length + 12 + 5 + ws.length + 2 * 24 + g.text + 2 * (24 + 8 * n))
      .field(link).timestamp(curHour).bool(bot === 1).field(ws)
      .textArray(g.dims).textArray(g.vals).int4Array(g.clicks).int4Array(g.visitors);
    g.dims.length = 0;
    g.vals.length = 0;
    g.clicks.length = 0;
    g.visitors.length = 0;
    g.text = 0;
  };
  const n = rollupInto(set, rows, first, (l, dim, hour, v, bot, ws, clicks, visitors) => {
    if (l !== curLink || hour !== curHour) {
      write(0);
      write(1);
      curLink = l;
      curHour = hour;
      curWs = ws;
    }
    const b = bot ? 1 : 0;
    const g = groups[b]!;
    const df = dims[dim]!;
    const vf = d.text.textOrEmpty(v);
    if (g.text + df.length + vf.length > DELTA_ROW_TEXT_BYTES) write(b);
    g.dims.push(df);
    g.vals.push(vf);
    g.clicks.push(clicks);
    g.visitors.push(visitors);
    g.text += df.length + vf.length;
  });
  write(0);
  write(1);
  if (n > 0) {
    await copyInto(client, 'COPY click_rollup_deltas (link_id, hour, bot, workspace_id, dims, vals, clicks, visitors) FROM STDIN (FORMAT binary)', w.finish());
  }
  return n;
}

/** Stores the clicks of `set` (validated, partitions ensured) in one transaction. */
export async function storeClicks(pool: Pool, set: ClickSet, opts: StoreOptions): Promise<StoreResult> {
  let rows = set.ordered();
  if (rows.length === 0) return { inserted: 0, duplicates: set.n, events: 0, path: 'copy', rollupRows: 0 };
  const dict: Dicts = { text: new FieldDictionary(set.strings), jsonb: new JsonbDictionary(set.strings) };
  const chunks = copyRows(set, dict, rows);
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    opts.onPhase?.(name, now - mark);
    mark = now;
  };
  // any failure releases the connection as broken (it may be mid-COPY)
  return withClient(pool, async (client) => {
    await ensureStaging(client);
    await client.query('BEGIN');
    try {
      await client.query('SAVEPOINT raw');
      let path: StoreResult['path'] = 'copy';
      try {
        await copyInto(client, `COPY clicks (${COLUMNS}) FROM STDIN (FORMAT binary)`, chunks);
        phase('copy');
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        await client.query('ROLLBACK TO SAVEPOINT raw');
        rows = await mergeInsert(client, set, rows, chunks);
        path = 'merge';
        phase('merge');
      }
      let rollupRows = 0;
      let events = 0;
      if (rows.length > 0) {
        const first = await markFirstVisits(client, set, rows, phase);
        phase('visitors');
        rollupRows = await appendRollupDeltas(client, set, dict, rows, first);
        phase('rollups');
        const evts = clickWebhookEvents(set, rows, opts.subscriptions, opts.scheme);
        if (evts.length > 0) events = (await emitEvents(client, evts)).length;
        phase('events');
      }
      await client.query('COMMIT');
      phase('commit');
      return { inserted: rows.length, duplicates: set.n - rows.length, events, path, rollupRows };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/**
 * The floor ingest is measured against (bench): a table of the clicks table's shape — same
 * columns, primary key and day partitions — that takes the clicks with nothing else.
 */
export async function createClickFloorTable(pool: Pool, table: string, days: Iterable<number>): Promise<void> {
  await pool.query(`CREATE TABLE ${table} (LIKE clicks INCLUDING ALL) PARTITION BY RANGE (occurred_at)`);
  for (const d of days) {
    const from = new Date(d * 86_400_000).toISOString();
    const to = new Date((d + 1) * 86_400_000).toISOString();
    await pool.query(`CREATE TABLE ${table}_p${d} PARTITION OF ${table} FOR VALUES FROM ('${from}') TO ('${to}')`);
  }
}

/** The floor's write: the clicks of `set`, binary-COPYed into `table` in one transaction, nothing else. */
export async function copyClickFloor(pool: Pool, table: string, set: ClickSet): Promise<void> {
  const chunks = copyRows(set, { text: new FieldDictionary(set.strings), jsonb: new JsonbDictionary(set.strings) }, set.ordered());
  await withClient(pool, async (client) => {
    await client.query('BEGIN');
    await copyInto(client, `COPY ${table} (${COLUMNS}) FROM STDIN (FORMAT binary)`, chunks);
    await client.query('COMMIT');
  });
}
