/**
 * Raw click events of one link: cursor-paged JSON (newest first), or a streamed export
 * (NDJSON or CSV, oldest first) produced by Postgres itself with COPY … TO STDOUT, so an export of
 * millions of rows streams at disk speed in constant memory.
 */
import type { Readable } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import type { Pool, Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { uuidToId } from '../ids.js';
import { MAX_INSTANT } from '../instant.js';

export interface ClickResource {
  id: string;
  occurred_at: string;
  link_id: string;
  domain: string;
  path: string;
  destination: string;
  rule_id: string | null;
  variant_id: string | null;
  country: string | null;
  device: string | null;
  os: string | null;
  browser: string | null;
  referrer_host: string | null;
  language: string | null;
  bot: boolean;
  qr: boolean;
  utm: Record<string, string> | null;
  node_id: string;
  visitor_hash: string;
}

export interface ClickFilter {
  linkId: string;
  /** Epoch ms, inclusive. */
  from: number | null;
  /** Epoch ms, exclusive. */
  to: number | null;
  excludeBots: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeClickCursor(id: string): string {
  return Buffer.from(JSON.stringify({ v: 1, c: id })).toString('base64url');
}

export function decodeClickCursor(cursor: string): string {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; c?: unknown };
    // a forged time (past year 9999) would reach Postgres as a timestamp it cannot hold
    if (c.v === 1 && typeof c.c === 'string' && UUID.test(c.c) && c.c[14] === '7' && uuidTime(c.c) <= MAX_INSTANT) return c.c;
  } catch {
    // fall through
  }
  throw errors.invalid_cursor({ field: 'cursor' });
}

/** The time inside a UUIDv7 (the click's occurred_at), so a cursor also bounds the partitions scanned. */
function uuidTime(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

function conditions(f: ClickFilter, lit: (v: string) => string): string {
  const parts = [`link_id = ${lit(f.linkId)}`];
  if (f.from !== null) parts.push(`occurred_at >= ${lit(new Date(f.from).toISOString())}`);
  if (f.to !== null) parts.push(`occurred_at < ${lit(new Date(f.to).toISOString())}`);
  if (f.excludeBots) parts.push('NOT bot');
  return parts.join(' AND ');
}

const ISO_UTC = `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export async function listClicks(db: Queryable, f: ClickFilter, page: { limit: number; cursor?: string }): Promise<{ data: ClickResource[]; next_cursor: string | null }> {
  const params: unknown[] = [];
  const lit = (v: string) => {
    params.push(v);
    return `$${params.length}`;
  };
  let sql = conditions(f, lit);
  if (page.cursor) {
    const after = decodeClickCursor(page.cursor);
    sql += ` AND id < ${lit(after)}::uuid AND occurred_at <= ${lit(new Date(uuidTime(after)).toISOString())}`;
  }
  params.push(page.limit + 1);
  const { rows } = await db.query<ClickResource>(
    `SELECT id, ${ISO_UTC} AS occurred_at, link_id, domain, path, destination, rule_id, variant_id, country, device, os,
            browser, referrer_host, language, bot, qr, utm, node_id, encode(visitor_hash, 'hex') AS visitor_hash
       FROM clicks WHERE ${sql} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > page.limit;
  if (more) rows.pop();
  const next_cursor = more ? encodeClickCursor(rows[rows.length - 1]!.id) : null;
  return { data: rows.map((r) => ({ ...r, id: uuidToId('clk', r.id) })), next_cursor };
}

export type ExportFormat = 'ndjson' | 'csv';

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

/** A spreadsheet must not run a cell as a formula (=, +, -, @ first): such text gets a leading quote. */
const safeCell = (col: string) => `CASE WHEN ${col} ~ '^[=+\\-@\\t\\r]' THEN '''' || ${col} ELSE ${col} END`;

function exportSql(f: ClickFilter, format: ExportFormat, lit: (v: string) => string): string {
  const where = conditions(f, lit);
  if (format === 'ndjson') {
    // one JSON object per line; CSV mode with quote/delimiter bytes that JSON text never contains
    return `COPY (SELECT json_build_object('id', linkplane_public_id('clk', id), 'occurred_at', ${ISO_UTC}, 'link_id', link_id, 'domain', domain,
        'path', path, 'destination', destination, 'rule_id', rule_id, 'variant_id', variant_id, 'country', country,
        'device', device, 'os', os, 'browser', browser, 'referrer_host', referrer_host, 'language', language,
        'bot', bot, 'qr', qr, 'utm', utm, 'node_id', node_id, 'visitor_hash', encode(visitor_hash, 'hex'))
      FROM clicks WHERE ${where} ORDER BY id) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`;
  }
  const utm = (k: string) => safeCell(`(utm ->> '${k}')`);
  return `COPY (SELECT linkplane_public_id('clk', id) AS id, ${ISO_UTC} AS occurred_at, link_id, domain, ${safeCell('path')} AS path,
      ${safeCell('destination')} AS destination, ${safeCell('rule_id')} AS rule_id, ${safeCell('variant_id')} AS variant_id,
      country, device, os, browser, ${safeCell('referrer_host')} AS referrer_host, language, bot::text AS bot, qr::text AS qr,
      ${utm('source')} AS utm_source, ${utm('medium')} AS utm_medium, ${utm('campaign')} AS utm_campaign,
      ${utm('term')} AS utm_term, ${utm('content')} AS utm_content, node_id, encode(visitor_hash, 'hex') AS visitor_hash
    FROM clicks WHERE ${where} ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER true)`;
}

/**
 * Streams the link's clicks in `format`. The connection is held until the stream ends, fails or
 * is closed (a client that disconnects stops the query).
 */
export async function exportClicks(pool: Pool, f: ClickFilter, format: ExportFormat): Promise<Readable> {
  const client = await pool.connect();
  // COPY takes no bind parameters: values are quoted by the driver (and were validated before)
  const sql = exportSql(f, format, (v) => client.escapeLiteral(v));
  const stream = client.query(copyTo(sql));
  let released = false;
  const release = (err?: unknown) => {
    if (released) return;
    released = true;
    client.off('error', release);
    client.release(err ? true : undefined);
  };
  // a connection lost mid-export must not become an uncaught 'error' on the client
  client.on('error', release);
  stream.once('end', () => release());
  stream.once('error', (err) => release(err));
  stream.once('close', () => release(stream.readableEnded ? undefined : new Error('export aborted')));
  return stream;
}
