/**
 * Stores a set of clicks in ONE Postgres transaction: raw rows, visitor sets, hourly rollups and
 * webhook events, all counting only the clicks this transaction actually inserted.
 *
 * Raw rows go in with one COPY straight into `clicks` (sorted by link, so index inserts stay
 * local). Almost always every click is new; if one is not (a batch redelivered after a crash, or
 * re-sent after the JetStream dedupe window), the COPY fails on the primary key, is rolled back to
 * a savepoint, and the same rows go through a staging table with
 * `INSERT … ON CONFLICT (id, occurred_at) DO NOTHING RETURNING id` instead — so a click is stored,
 * counted and announced exactly once either way.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { ClickEvent } from '../../shared/index.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { isUniqueViolation } from '../db/tx.js';
import { emitEvents } from '../events/emit.js';
import { rollup, type RollupRow } from './click-rollup.js';
import { dayOf, dayText } from './click-partitions.js';
import { clickWebhookEvents } from './click-webhook-events.js';
import { copyByteaHex, CopyEscaper, COPY_NULL } from './copy-text.js';
import type { Subscriptions } from './event-subscribers.js';

const COLUMNS =
  'id, occurred_at, workspace_id, link_id, domain, path, destination, rule_id, variant_id, country, device, os, browser, referrer_host, language, bot, qr, utm, node_id, visitor_hash';

export interface StoreResult {
  /** Clicks inserted now. */
  inserted: number;
  /** Clicks that were already stored (skipped). */
  duplicates: number;
  /** Webhook event rows written. */
  events: number;
  /** 'copy' = fast path; 'merge' = some were duplicates. */
  path: 'copy' | 'merge';
  rollupRows: number;
}

const byLinkThenId = (a: ClickEvent, b: ClickEvent): number =>
  a.linkId < b.linkId ? -1 : a.linkId > b.linkId ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/** Distinct by id, sorted by (link, id). */
export function prepareClicks(clicks: readonly ClickEvent[]): ClickEvent[] {
  const seen = new Map<string, ClickEvent>();
  for (const c of clicks) if (!seen.has(c.id)) seen.set(c.id, c);
  return [...seen.values()].sort(byLinkThenId);
}

/** The rows as COPY text, in chunks of about 256 KB. */
function copyChunks(clicks: readonly ClickEvent[]): string[] {
  const esc = new CopyEscaper();
  const utmText = new Map<Record<string, string>, string>();
  const chunks: string[] = [];
  let buf = '';
  for (const c of clicks) {
    let utm = COPY_NULL;
    if (c.utm) {
      utm = utmText.get(c.utm) ?? esc.text(JSON.stringify(c.utm));
      utmText.set(c.utm, utm);
    }
    buf +=
      `${c.id}\t${new Date(c.occurredAt).toISOString()}\t${esc.text(c.workspaceId)}\t${esc.text(c.linkId)}\t` +
      `${esc.text(c.domain)}\t${esc.text(c.path)}\t${esc.text(c.destination)}\t${esc.text(c.ruleId)}\t` +
      `${esc.text(c.variantId)}\t${esc.text(c.country)}\t${esc.text(c.deviceClass)}\t${esc.text(c.os)}\t` +
      `${esc.text(c.browser)}\t${esc.text(c.referrerHost)}\t${esc.text(c.language)}\t${c.bot ? 't' : 'f'}\t` +
      `${c.qr ? 't' : 'f'}\t${utm}\t${esc.text(c.nodeId)}\t${copyByteaHex(c.visitorHash)}\n`;
    if (buf.length > 256 * 1024) {
      chunks.push(buf);
      buf = '';
    }
  }
  if (buf) chunks.push(buf);
  return chunks;
}

async function copyInto(client: PoolClient, table: string, chunks: string[]): Promise<void> {
  await pipeline(Readable.from(chunks), client.query(copyFrom(`COPY ${table} (${COLUMNS}) FROM STDIN`)));
}

/** Inserts what is new through a staging table; returns the clicks that were inserted. */
async function mergeInsert(client: PoolClient, clicks: ClickEvent[], chunks: string[]): Promise<ClickEvent[]> {
  await client.query('CREATE TEMP TABLE IF NOT EXISTS click_stage (LIKE clicks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS');
  await client.query('TRUNCATE click_stage');
  await copyInto(client, 'click_stage', chunks);
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO clicks (${COLUMNS}) SELECT ${COLUMNS} FROM click_stage ORDER BY link_id, id
     ON CONFLICT (id, occurred_at) DO NOTHING RETURNING id`,
  );
  const ids = new Set(rows.map((r) => r.id));
  return clicks.filter((c) => ids.has(c.id));
}

/**
 * Records (link, day, visitor) and returns, per click, whether it is its visitor's first counted
 * click of the day on that link (the earliest such click of this transaction, when the visitor
 * was not already known).
 */
async function markFirstVisits(client: PoolClient, clicks: readonly ClickEvent[]): Promise<boolean[]> {
  const firstIndex = new Map<string, number>();
  const days = new Map<number, string>();
  const keys: string[] = new Array<string>(clicks.length);
  for (let i = 0; i < clicks.length; i++) {
    const c = clicks[i]!;
    const d = dayOf(c.occurredAt);
    let day = days.get(d);
    if (day === undefined) days.set(d, (day = dayText(d)));
    const key = `${c.linkId}\u0000${day}\u0000${c.visitorHash}`;
    keys[i] = key;
    const prev = firstIndex.get(key);
    if (prev === undefined || clicks[prev]!.id > c.id) firstIndex.set(key, i);
  }
  const triples = [...firstIndex.keys()].sort();
  const links: string[] = [];
  const dayList: string[] = [];
  const hashes: string[] = [];
  for (const t of triples) {
    const [l, d, h] = t.split('\u0000') as [string, string, string];
    links.push(l);
    dayList.push(d);
    hashes.push(h);
  }
  const { rows } = await client.query<{ link_id: string; day: string; h: string }>(
    `INSERT INTO click_visitors (link_id, day, visitor_hash)
     SELECT l, d, decode(h, 'hex') FROM unnest($1::text[], $2::date[], $3::text[]) AS u(l, d, h)
     ON CONFLICT DO NOTHING
     RETURNING link_id, to_char(day, 'YYYY-MM-DD') AS day, encode(visitor_hash, 'hex') AS h`,
    [links, dayList, hashes],
  );
  const first = new Array<boolean>(clicks.length).fill(false);
  for (const r of rows) {
    const i = firstIndex.get(`${r.link_id}\u0000${r.day}\u0000${r.h}`);
    if (i !== undefined) first[i] = true;
  }
  return first;
}

async function upsertRollups(client: PoolClient, rows: readonly RollupRow[]): Promise<void> {
  if (rows.length === 0) return;
  const hours = new Map<number, string>();
  const hourText = (h: number) => {
    let t = hours.get(h);
    if (t === undefined) hours.set(h, (t = new Date(h).toISOString()));
    return t;
  };
  await client.query(
    `INSERT INTO click_rollups (link_id, dim, hour, value, bot, workspace_id, clicks, visitors)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bool[], $6::text[], $7::bigint[], $8::bigint[])
     ON CONFLICT (link_id, dim, hour, value, bot) DO UPDATE
       SET clicks = click_rollups.clicks + EXCLUDED.clicks, visitors = click_rollups.visitors + EXCLUDED.visitors`,
    [
      rows.map((r) => r.linkId),
      rows.map((r) => r.dim),
      rows.map((r) => hourText(r.hour)),
      rows.map((r) => r.value),
      rows.map((r) => r.bot),
      rows.map((r) => r.workspaceId),
      rows.map((r) => r.clicks),
      rows.map((r) => r.visitors),
    ],
  );
}

export interface StoreOptions {
  /** Workspaces subscribed to click webhook events (empty: write none). */
  subscriptions: Subscriptions;
  /** Scheme of short URLs in event payloads. */
  scheme: string;
}

/** Stores `clicks` (already validated, partitions ensured) in one transaction. */
export async function storeClicks(pool: Pool, input: readonly ClickEvent[], opts: StoreOptions): Promise<StoreResult> {
  const clicks = prepareClicks(input);
  const dupesInInput = input.length - clicks.length;
  if (clicks.length === 0) return { inserted: 0, duplicates: dupesInInput, events: 0, path: 'copy', rollupRows: 0 };
  const chunks = copyChunks(clicks);
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query('BEGIN');
    await client.query('SAVEPOINT raw');
    let inserted: ClickEvent[];
    let path: StoreResult['path'] = 'copy';
    try {
      await copyInto(client, 'clicks', chunks);
      inserted = clicks;
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      await client.query('ROLLBACK TO SAVEPOINT raw');
      inserted = await mergeInsert(client, clicks, chunks);
      path = 'merge';
    }
    let rollupRows = 0;
    let events = 0;
    if (inserted.length > 0) {
      const first = await markFirstVisits(client, inserted);
      const rows = rollup(inserted, first);
      rollupRows = rows.length;
      await upsertRollups(client, rows);
      const evts = clickWebhookEvents(inserted, opts.subscriptions, opts.scheme);
      events = (await emitEvents(client, evts)).length;
    }
    await client.query('COMMIT');
    return { inserted: inserted.length, duplicates: input.length - inserted.length, events, path, rollupRows };
  } catch (err) {
    failed = true;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // a connection that failed mid-COPY may be unusable: don't put it back in the pool
    client.release(failed ? true : undefined);
  }
}
