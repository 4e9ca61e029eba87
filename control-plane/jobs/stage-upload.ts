/**
 * Streams a bulk body into the staging table as it arrives: bytes → items (JSON, NDJSON or CSV)
 * → COPY job_items, inside one open transaction. Memory holds one chunk and one item, never the
 * body. Any problem (syntax, size, a client that goes away) destroys the connection, which rolls
 * the transaction back: nothing of the upload remains. On success the caller gets the open
 * transaction and adds the job row to it (see job-store.ts).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { from as copyFrom } from 'pg-copy-streams';
import { ApiError } from '../../shared/index.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { errors } from '../errors.js';
import { csvRecordToItem, readCsvHeader, type CsvHeader } from './csv-items.js';
import { CsvReader, CsvSyntaxError } from './csv-reader.js';
import { JsonBodyError, JsonBodyScanner } from './json-body-scanner.js';
import { NdjsonError, NdjsonLines } from './ndjson-lines.js';

export const BULK_FORMATS = ['json', 'ndjson', 'csv'] as const;
export type BulkFormat = (typeof BULK_FORMATS)[number];

/** Top-level fields a JSON body may carry besides `items`. */
export const JSON_BODY_FIELDS = ['operation', 'callback_url', 'idempotency_key'] as const;

export interface StageOptions {
  format: BulkFormat;
  body: Readable;
  maxBytes: number;
  maxItemBytes: number;
  /** Hashed ahead of the body bytes (format and query), for idempotency. */
  hashPrefix: string;
}

export interface StagedUpload {
  /** Inside BEGIN, items staged; the caller commits or releases it. */
  client: PoolClient;
  jobSeq: string;
  items: number;
  bytes: number;
  sha256: Buffer;
  /** Top-level fields of a JSON body (operation, callback_url, idempotency_key). */
  fields: Record<string, unknown>;
}

/** COPY text format: backslash, tab, LF and CR must be escaped. */
export function copyEscape(s: string): string {
  if (!/[\\\t\n\r]/.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Turns parser errors into API errors naming the line/field; anything else passes through. */
export function uploadError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof CsvSyntaxError) {
    return errors.invalid_csv({ field: 'body', line: err.line, column: err.column, reason: err.reason }, `CSV ${err.message}`);
  }
  if (err instanceof JsonBodyError) {
    if (err.reason === 'unknown_field' || err.reason === 'duplicate_field') {
      return errors.validation_failed({ field: err.field, reason: err.reason }, err.message);
    }
    if (err.reason === 'too_large') return errors.validation_failed({ field: err.field, reason: 'too_large' }, err.message);
    return errors.invalid_json({ field: err.field, line: err.line, offset: err.offset, reason: err.reason }, err.message);
  }
  if (err instanceof NdjsonError) {
    if (err.reason === 'too_large') return errors.validation_failed({ field: 'body', line: err.line, reason: 'too_large' }, err.message);
    return errors.invalid_json({ field: 'body', line: err.line, reason: 'syntax' }, `NDJSON ${err.message}`);
  }
  return err;
}

/** Splits a body into item texts, whatever its format. */
interface ItemSource {
  push(chunk: Buffer): string[];
  end(): string[];
  fields(): Record<string, unknown>;
}

function jsonSource(maxItemBytes: number): ItemSource {
  const scanner = new JsonBodyScanner({ fields: JSON_BODY_FIELDS, maxItemBytes });
  let fields: Record<string, unknown> = {};
  return {
    push: (chunk) => scanner.push(chunk),
    end: () => {
      const r = scanner.end();
      if (!r.hasItems) throw errors.validation_failed({ field: 'items', reason: 'required' }, 'items is required');
      fields = r.fields;
      return [];
    },
    fields: () => fields,
  };
}

function ndjsonSource(maxItemBytes: number): ItemSource {
  const lines = new NdjsonLines(maxItemBytes);
  return { push: (chunk) => lines.push(chunk), end: () => lines.end(), fields: () => ({}) };
}

function csvSource(maxItemBytes: number): ItemSource {
  const decoder = new StringDecoder('utf8');
  const reader = new CsvReader({ maxRecordChars: maxItemBytes });
  let header: CsvHeader | null = null;
  let first = true;
  const items = (r: { records: string[][]; lines: number[] }): string[] => {
    const out: string[] = [];
    for (let i = 0; i < r.records.length; i++) {
      const fields = r.records[i]!;
      if (!header) {
        header = readCsvHeader(fields);
        continue;
      }
      if (fields.length !== header.columns.length) {
        const line = r.lines[i]!;
        throw errors.invalid_csv(
          { field: 'body', line, column: Math.min(fields.length, header.columns.length) + 1, reason: 'field_count', expected: header.columns.length, got: fields.length },
          `CSV line ${line}: expected ${header.columns.length} fields (as in the header), got ${fields.length}`,
        );
      }
      out.push(JSON.stringify(csvRecordToItem(header, fields)));
    }
    return out;
  };
  return {
    push: (chunk) => {
      let text = decoder.write(chunk);
      if (first && text.length > 0) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      return items(reader.push(text));
    },
    end: () => {
      const out = items(reader.end());
      if (!header) throw errors.invalid_csv({ field: 'body', line: 1, reason: 'no_header' }, 'CSV: the body needs a header row naming the columns');
      return out;
    },
    fields: () => ({}),
  };
}

const SOURCES: Record<BulkFormat, (maxItemBytes: number) => ItemSource> = { json: jsonSource, ndjson: ndjsonSource, csv: csvSource };

/**
 * Streams `body` into job_items under a new job seq, in a transaction left open on success.
 * Throws an ApiError (400/413/…) on a bad body; the connection is discarded (rolled back).
 */
export async function stageUpload(pool: Pool, opts: StageOptions): Promise<StagedUpload> {
  const client = await pool.connect();
  let items = 0;
  let bytes = 0;
  const hash = createHash('sha256').update(opts.hashPrefix);
  const source = SOURCES[opts.format](opts.maxItemBytes);
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ seq: string }>(`SELECT nextval('jobs_seq')::text AS seq`);
    const seq = rows[0]!.seq;
    const encode = (texts: string[]): string => {
      let out = '';
      for (const t of texts) out += `${seq}\t${items++}\t${copyEscape(t)}\n`;
      return out;
    };
    const copy = client.query(copyFrom('COPY job_items (job_seq, idx, item) FROM STDIN'));
    await pipeline(
      opts.body,
      async function* (chunks: AsyncIterable<Buffer | string>) {
        let pending = '';
        for await (const c of chunks) {
          const chunk = typeof c === 'string' ? Buffer.from(c) : c;
          bytes += chunk.length;
          if (bytes > opts.maxBytes) {
            throw errors.body_too_large({ limit: opts.maxBytes }, `the body is larger than BULK_MAX_BYTES (${opts.maxBytes} bytes)`);
          }
          hash.update(chunk);
          pending += encode(source.push(chunk));
          if (pending.length >= 65_536) {
            yield pending;
            pending = '';
          }
        }
        pending += encode(source.end());
        if (pending.length > 0) yield pending;
      },
      copy,
    );
    return { client, jobSeq: seq, items, bytes, sha256: hash.digest(), fields: source.fields() };
  } catch (err) {
    client.release(err instanceof Error ? err : true); // discard the connection: the transaction dies with it
    throw uploadError(err);
  }
}
