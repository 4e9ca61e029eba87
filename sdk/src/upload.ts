/**
 * Bulk-upload bodies without holding them in memory: a Blob/File (read by fetch as it sends, and
 * re-read for a retry), a ReadableStream, or any (async) iterable — of text/bytes chunks (a CSV or
 * NDJSON file, a Node Readable) or of objects (each sent as one NDJSON line). Iterables become a
 * pull-driven ReadableStream, so the next chunk is read only when the network takes the last one.
 */
import type { RequestBody } from './transport.js';

/** Items are sent in chunks of about this many bytes. */
export const CHUNK_BYTES = 64 * 1024;

export type UploadFormat = 'csv' | 'ndjson' | 'json';
export type UploadChunk = string | Uint8Array;
export type UploadSource =
  | Blob
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<UploadChunk | object>
  | Iterable<UploadChunk | object>;

export interface UploadProgress {
  /** Bytes handed to the network so far. */
  bytes: number;
  /** The body's size when known (Blob, string), else null. */
  totalBytes: number | null;
}

export const CONTENT_TYPES: Record<UploadFormat, string> = {
  csv: 'text/csv',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
};

const isBlob = (v: unknown): v is Blob => typeof Blob !== 'undefined' && v instanceof Blob;
const isStream = (v: unknown): v is ReadableStream<Uint8Array> => typeof ReadableStream !== 'undefined' && v instanceof ReadableStream;

/** The format a source says it has (file name, Blob type), else null. */
export function inferFormat(source: UploadSource): UploadFormat | null {
  if (isBlob(source)) {
    const name = (source as Blob & { name?: unknown }).name;
    if (typeof name === 'string') {
      if (/\.csv$/i.test(name)) return 'csv';
      if (/\.(ndjson|jsonl)$/i.test(name)) return 'ndjson';
      if (/\.json$/i.test(name)) return 'json';
    }
    const type = source.type.split(';')[0]!.trim().toLowerCase();
    for (const [format, ct] of Object.entries(CONTENT_TYPES)) if (type === ct) return format as UploadFormat;
    if (type === 'application/ndjson') return 'ndjson';
  }
  return null;
}

/** Counts bytes as the consumer (fetch) pulls them. */
function counting(stream: ReadableStream<Uint8Array>, onBytes: (n: number) => void): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      const { value, done } = await reader.read();
      if (done) return ctl.close();
      onBytes(value.byteLength);
      ctl.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** A pull-driven byte stream over an (async) iterable of chunks or objects (objects → NDJSON lines). */
export function iterableStream(source: AsyncIterable<UploadChunk | object> | Iterable<UploadChunk | object>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it: AsyncIterator<UploadChunk | object> | Iterator<UploadChunk | object> =
    Symbol.asyncIterator in source ? (source as AsyncIterable<UploadChunk | object>)[Symbol.asyncIterator]() : (source as Iterable<UploadChunk | object>)[Symbol.iterator]();
  // small items (CSV rows, NDJSON lines) are gathered into chunks of about CHUNK_BYTES, so the
  // network sees few large writes and the source is read at most one chunk ahead of it
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = (ctl: ReadableStreamDefaultController<Uint8Array>) => {
    const out = new Uint8Array(pendingBytes);
    let at = 0;
    for (const p of pending) {
      out.set(p, at);
      at += p.byteLength;
    }
    pending = [];
    pendingBytes = 0;
    ctl.enqueue(out);
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctl) {
      for (;;) {
        const { value, done } = await it.next();
        if (done) {
          if (pendingBytes > 0) flush(ctl);
          return ctl.close();
        }
        const bytes =
          typeof value === 'string' ? encoder.encode(value)
          : value instanceof Uint8Array ? value
          : encoder.encode(JSON.stringify(value) + '\n');
        if (bytes.byteLength === 0) continue;
        // copied by flush: a producer (a Node Readable) may reuse its buffers
        pending.push(bytes);
        pendingBytes += bytes.byteLength;
        if (pendingBytes >= CHUNK_BYTES) return flush(ctl);
      }
    },
    async cancel() {
      await it.return?.();
    },
  }, { highWaterMark: 0 });
}

/** The request body for an upload, with progress reported as fetch reads it. */
export function uploadBody(source: UploadSource, format: UploadFormat, onProgress?: (p: UploadProgress) => void): RequestBody {
  const contentType = CONTENT_TYPES[format];
  let bytes = 0;
  const report = (total: number | null) => (n: number) => {
    bytes += n;
    onProgress?.({ bytes, totalBytes: total });
  };
  if (typeof source === 'string') source = new Blob([source]);
  if (isBlob(source)) {
    const blob = source;
    // each attempt re-reads the blob from the start
    if (!onProgress) return { raw: () => blob, contentType, length: blob.size };
    return {
      raw: () => {
        bytes = 0;
        return counting(blob.stream() as ReadableStream<Uint8Array>, report(blob.size));
      },
      contentType,
    };
  }
  if (Array.isArray(source)) {
    const items = source;
    return {
      raw: () => {
        bytes = 0;
        return counting(iterableStream(items), report(null));
      },
      contentType,
    };
  }
  const stream = isStream(source) ? source : iterableStream(source);
  return { raw: onProgress ? counting(stream, report(null)) : stream, contentType };
}

/**
 * The format of an upload and the source to send: the format given, else what a Blob says (file
 * name, type), else NDJSON when the iterable's first item is an object (peeked, then sent too).
 */
export async function resolveUpload(source: UploadSource, given: UploadFormat | undefined): Promise<{ source: UploadSource; format: UploadFormat }> {
  const known = given ?? inferFormat(source);
  if (known) return { source, format: known };
  if (typeof source !== 'string' && !isBlob(source) && !isStream(source)) {
    const it = Symbol.asyncIterator in source ? (source as AsyncIterable<UploadChunk | object>)[Symbol.asyncIterator]() : (source as Iterable<UploadChunk | object>)[Symbol.iterator]();
    const first = await it.next();
    const rest: AsyncIterable<UploadChunk | object> = {
      async *[Symbol.asyncIterator]() {
        if (first.done) return;
        yield first.value;
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      },
    };
    const objects = !first.done && typeof first.value === 'object' && !(first.value instanceof Uint8Array);
    if (objects || first.done) return { source: Array.isArray(source) ? source : rest, format: 'ndjson' };
  }
  throw new TypeError('jobs.upload: say the format ({ format: "csv" | "ndjson" | "json" }); it cannot be told from this source');
}
