/**
 * The wire encoding of a click batch (one NATS message on `<prefix>.clicks.<nodeId>`), decided
 * here once for both planes.
 *
 * Columnar msgpack: the same strings repeat across a batch (link, workspace, domain, destination,
 * country, browser…), so every string field is an index into one string table, and the fixed-size
 * fields are byte columns. Encoding is a map lookup per field (cheap on the node's hot thread),
 * decoding rebuilds events that share their strings. 1 000 typical events ≈ 60 KB.
 *
 *   { v: 1, node, batch, n, w: 2|4,
 *     s:  string[]            string table; index 0 means null
 *     id: bin(16·n)           UUIDv7 per event; its timestamp is occurredAt (shared/click-id.ts)
 *     vh: bin(16·n)           visitor hash (first 16 bytes of the HMAC)
 *     f:  bin(n)              flags: 1 = bot, 2 = QR
 *     c:  bin(K·n·w)          K string columns (STRING_FIELDS order), column-major, little-endian }
 *
 * Version 2 (what nodes send since issue 13; version 1 above stays decodable for a rolling deploy,
 * and is what `encodeClickBatch` still writes): the node copies each click's link texts out of its
 * click ring as bytes, without making strings of them, and leaves the UTM snapshot to the decoder.
 *
 *   { v: 2, node, batch, n, w: 2|4,
 *     s:  string[]            dictionary of the repeated values (DICT_FIELDS); index 0 means null
 *     id, vh, f               as in v1
 *     c:  bin(D·n·w)          D dictionary columns (DICT_FIELDS order), column-major, little-endian
 *     tl: bin(3·n·4)          byte lengths of linkId, path, destination per event (u32 LE)
 *     t:  bin                 those texts, UTF-8, event after event }
 *
 * The decoder turns both into the same ClickColumns (utm from the destination's query, cached).
 *
 * Decoding validates everything: a structurally broken message throws ClickCodecError; a single
 * bad event (wrong id, missing link, oversized or NUL-containing text…) is returned in `rejected`
 * and the rest of the batch stays usable.
 */
import { Packr } from 'msgpackr';
import { clickIdTime, isClickIdBytes, uuidText, writeClickId, clickIdBytes } from './click-id.js';
import { CLICK_EVENT_VERSION, type ClickBatch, type ClickEvent } from './events.js';
import { utmSnapshot } from './utm-snapshot.js';

/** A larger copy of `b` (`bytes` long); the bytes past `b`'s length are not initialised. */
function widened(b: Buffer, bytes: number): Buffer {
  const nb = Buffer.allocUnsafe(bytes);
  b.copy(nb);
  return nb;
}

export class ClickCodecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClickCodecError';
  }
}

/** The string fields of a ClickEvent, in wire column order. */
export const STRING_FIELDS = [
  'linkId', 'workspaceId', 'domain', 'path', 'destination', 'ruleId', 'variantId', 'country',
  'deviceClass', 'os', 'browser', 'referrerHost', 'language', 'utm',
] as const;
type StringField = (typeof STRING_FIELDS)[number];
const K = STRING_FIELDS.length;

/** v2: the fields carried as dictionary indexes, in wire column order (the rest: texts, and utm derived). */
export const DICT_FIELDS = ['workspaceId', 'domain', 'ruleId', 'variantId', 'country', 'deviceClass', 'os', 'browser', 'referrerHost', 'language'] as const;
export type DictField = (typeof DICT_FIELDS)[number];
const D = DICT_FIELDS.length;
/** STRING_FIELDS position of each DICT_FIELDS column. */
const DICT_TO_FIELD = DICT_FIELDS.map((f) => (STRING_FIELDS as readonly string[]).indexOf(f));
/** The v2 column of each dictionary field (for writers). */
export const DICT = Object.fromEntries(DICT_FIELDS.map((f, i) => [f, i])) as Record<DictField, number>;
/** STRING_FIELDS positions of the v2 texts. */
const TEXT_TO_FIELD = [0, 3, 4];
const UTM_FIELD = 13;

/** Longest value accepted per field (characters); longer → the event is rejected. */
const MAX_LEN: Record<StringField, number> = {
  linkId: 64, workspaceId: 64, domain: 253, path: 2048, destination: 8192, ruleId: 64, variantId: 64,
  country: 2, deviceClass: 16, os: 32, browser: 32, referrerHost: 253, language: 35, utm: 4096,
};
const REQUIRED: ReadonlySet<StringField> = new Set(['linkId', 'workspaceId', 'domain', 'path', 'destination']);

export const MAX_EVENTS_PER_BATCH = 100_000;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Accumulates events column by column; `finish()` gives the message bytes. One per batch. */
export class ClickBatchWriter {
  private readonly strings: string[] = [''];
  private readonly index = new Map<string, number>();
  private readonly cols: number[][] = Array.from({ length: K }, () => []);
  /** linkId → an earlier event of this batch for that link (its workspace, domain and path are reused). */
  private readonly byLink = new Map<string, number>();
  private ids: Buffer;
  private hashes: Buffer;
  private flags: Buffer;
  private n = 0;
  /** Rough encoded size so far, to keep a message under the NATS payload limit. */
  bytes = 64;

  constructor(private readonly capacity = 1000) {
    this.ids = Buffer.allocUnsafe(16 * capacity);
    this.hashes = Buffer.allocUnsafe(16 * capacity);
    this.flags = Buffer.allocUnsafe(capacity);
  }

  get count(): number {
    return this.n;
  }

  private grow(): void {
    const cap = this.flags.length * 2;
    this.ids = widened(this.ids, 16 * cap);
    this.hashes = widened(this.hashes, 16 * cap);
    this.flags = widened(this.flags, cap);
  }

  private str(col: number, s: string | null): void {
    if (s === null) {
      this.cols[col]!.push(0);
      return;
    }
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
      this.bytes += s.length + 3;
    }
    this.cols[col]!.push(i);
  }

  /**
   * The link's four columns. A link clicked again in the batch usually has the same workspace,
   * domain and path: comparing them with the earlier event's strings is cheaper than looking each
   * fresh string up (hashing it); a renamed link simply misses.
   */
  private linkStrings(linkId: string, workspaceId: string, domain: string, path: string): void {
    const c = this.cols;
    const row = this.byLink.get(linkId);
    if (row !== undefined) {
      const ws = c[1]![row]!;
      const dom = c[2]![row]!;
      const p = c[3]![row]!;
      if (this.strings[ws] === workspaceId && this.strings[dom] === domain && this.strings[p] === path) {
        c[0]!.push(c[0]![row]!);
        c[1]!.push(ws);
        c[2]!.push(dom);
        c[3]!.push(p);
        return;
      }
    }
    this.byLink.set(linkId, this.n);
    this.str(0, linkId);
    this.str(1, workspaceId);
    this.str(2, domain);
    this.str(3, path);
  }

  /**
   * Adds one click. `id`: 16 bytes of a UUIDv7 (or null: one is generated for `occurredAt`).
   * `visitorHash`: 16+ bytes (only the first 16 are kept). `utmJson`: the UTM snapshot as JSON text.
   */
  addRaw(
    e: Omit<ClickEvent, 'v' | 'id' | 'visitorHash' | 'nodeId' | 'utm'> & { utmJson: string | null },
    id: Uint8Array | null,
    visitorHash: Uint8Array,
  ): void {
    if (this.n === this.flags.length) this.grow();
    const n = this.n;
    if (id) this.ids.set(id.subarray(0, 16), 16 * n);
    else writeClickId(e.occurredAt, this.ids, 16 * n);
    this.hashes.set(visitorHash.subarray(0, 16), 16 * n);
    this.flags[n] = (e.bot ? 1 : 0) | (e.qr ? 2 : 0);
    this.linkStrings(e.linkId, e.workspaceId, e.domain, e.path);
    this.str(4, e.destination);
    this.str(5, e.ruleId);
    this.str(6, e.variantId);
    this.str(7, e.country);
    this.str(8, e.deviceClass);
    this.str(9, e.os);
    this.str(10, e.browser);
    this.str(11, e.referrerHost);
    this.str(12, e.language);
    this.str(13, e.utmJson);
    this.n++;
    this.bytes += 33 + 2 * K;
  }

  /** Adds a ClickEvent (text id and hex visitor hash). Throws on an id that is not a UUIDv7. */
  add(e: ClickEvent): void {
    const id = clickIdBytes(e.id);
    if (!id) throw new ClickCodecError(`click id ${JSON.stringify(e.id)} is not a UUIDv7`);
    if (clickIdTime(id) !== e.occurredAt) throw new ClickCodecError(`click ${e.id}: occurredAt differs from the id's timestamp`);
    if (!/^[0-9a-f]{32}/i.test(e.visitorHash)) throw new ClickCodecError(`click ${e.id}: visitorHash must be at least 16 bytes of hex`);
    this.addRaw({ ...e, utmJson: e.utm ? JSON.stringify(e.utm) : null }, id, Buffer.from(e.visitorHash, 'hex'));
  }

  finish(nodeId: string, batchId: string): Uint8Array {
    const n = this.n;
    const w = this.strings.length > 0xffff ? 4 : 2;
    const c = Buffer.allocUnsafe(K * n * w);
    let o = 0;
    for (const col of this.cols) {
      if (w === 2) for (let i = 0; i < n; i++, o += 2) c.writeUInt16LE(col[i]!, o);
      else for (let i = 0; i < n; i++, o += 4) c.writeUInt32LE(col[i]!, o);
    }
    return packr.pack({
      v: CLICK_EVENT_VERSION,
      node: nodeId,
      batch: batchId,
      n,
      w,
      s: this.strings,
      id: this.ids.subarray(0, 16 * n),
      vh: this.hashes.subarray(0, 16 * n),
      f: this.flags.subarray(0, n),
      c,
    });
  }
}

/**
 * The v2 batch writer (the node's): dictionary values are interned once per batch by the caller
 * (`intern`, then the index goes into `dict`), link texts are copied in as bytes (`textBytes`) or
 * written from strings (`textString`). Per event: `begin()`, fill, `end()`.
 */
export class ClickBatchWriterV2 {
  private readonly strings: string[] = [''];
  private readonly index = new Map<string, number>();
  /** Row-major while filling: D indexes per event. */
  private dicts: Uint32Array;
  private lens: Uint32Array;
  private text: Buffer;
  private textLen = 0;
  ids: Buffer;
  hashes: Buffer;
  flags: Buffer;
  private n = 0;
  /** Rough encoded size so far, to keep a message under the NATS payload limit. */
  bytes = 64;
  /** The row being filled (`begin` → `end`). */
  row = 0;

  constructor(capacity = 1000) {
    const c = Math.max(1, capacity);
    this.dicts = new Uint32Array(D * c);
    this.lens = new Uint32Array(3 * c);
    this.text = Buffer.allocUnsafe(160 * c);
    this.ids = Buffer.allocUnsafe(16 * c);
    this.hashes = Buffer.allocUnsafe(16 * c);
    this.flags = Buffer.allocUnsafe(c);
  }

  get count(): number {
    return this.n;
  }

  /**
   * Empties the writer for the next batch, keeping its buffers (a new writer per batch allocated
   * ~260 KB for 1 000 clicks — its text buffer a fresh mmap, page-faulted in again every batch).
   * What `finish` returned is independent of the writer and stays valid.
   */
  reset(): void {
    this.strings.length = 1;
    this.index.clear();
    this.textLen = 0;
    this.n = 0;
    this.bytes = 64;
    this.row = 0;
  }

  /** The dictionary index of `s` (0 for null): a map lookup the first time in this batch. */
  intern(s: string | null): number {
    if (s === null) return 0;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
      this.bytes += s.length + 3;
    }
    return i;
  }

  private grow(): void {
    const cap = this.flags.length * 2;
    this.ids = widened(this.ids, 16 * cap);
    this.hashes = widened(this.hashes, 16 * cap);
    this.flags = widened(this.flags, cap);
    const d = new Uint32Array(D * cap);
    d.set(this.dicts);
    this.dicts = d;
    const l = new Uint32Array(3 * cap);
    l.set(this.lens);
    this.lens = l;
  }

  private room(bytes: number): void {
    if (this.textLen + bytes <= this.text.length) return;
    const nb = Buffer.allocUnsafe(Math.max(2 * this.text.length, this.textLen + bytes));
    this.text.copy(nb, 0, 0, this.textLen);
    this.text = nb;
  }

  /**
   * Starts an event: `id` (16 bytes) is written for `occurredAt` unless given; `visitorHash` and
   * flags (1 = bot, 2 = QR) are the caller's to fill at `row` (ids/hashes/flags) before `end`.
   */
  begin(occurredAt: number, flags: number): number {
    if (this.n === this.flags.length) this.grow();
    const n = this.n;
    this.row = n;
    writeClickId(occurredAt, this.ids, 16 * n);
    this.flags[n] = flags;
    this.dicts.fill(0, D * n, D * n + D);
    return n;
  }

  /** Dictionary column `col` (DICT) of the current event. */
  dict(col: number, index: number): void {
    this.dicts[D * this.row + col] = index;
  }

  /** Text `t` (0 linkId, 1 path, 2 destination) of the current event, from UTF-8 bytes. */
  textBytes(t: number, src: Uint8Array, start: number, length: number): void {
    this.room(length);
    const out = this.text;
    let o = this.textLen;
    // short texts: a loop beats the native copy's call
    if (length < 64) for (let i = start, end = start + length; i < end; i++) out[o++] = src[i]!;
    else out.set(src.subarray(start, start + length), o);
    this.textLen += length;
    this.lens[3 * this.row + t] = length;
  }

  /** Text `t` of the current event, from a string. */
  textString(t: number, s: string): void {
    this.room(3 * s.length);
    const length = this.text.write(s, this.textLen, 'utf8');
    this.textLen += length;
    this.lens[3 * this.row + t] = length;
  }

  /** Ends the current event. */
  end(): void {
    const r = this.row;
    this.n++;
    this.bytes += 33 + 2 * D + 12 + this.lens[3 * r]! + this.lens[3 * r + 1]! + this.lens[3 * r + 2]!;
  }

  finish(nodeId: string, batchId: string): Uint8Array {
    const n = this.n;
    const w = this.strings.length > 0xffff ? 4 : 2;
    const c = Buffer.allocUnsafe(D * n * w);
    const d = this.dicts;
    let o = 0;
    for (let f = 0; f < D; f++) {
      if (w === 2) for (let i = 0; i < n; i++, o += 2) c.writeUInt16LE(d[D * i + f]!, o);
      else for (let i = 0; i < n; i++, o += 4) c.writeUInt32LE(d[D * i + f]!, o);
    }
    const tl = Buffer.allocUnsafe(12 * n);
    for (let i = 0; i < 3 * n; i++) tl.writeUInt32LE(this.lens[i]!, 4 * i);
    return packr.pack({
      v: 2,
      node: nodeId,
      batch: batchId,
      n,
      w,
      s: this.strings,
      id: this.ids.subarray(0, 16 * n),
      vh: this.hashes.subarray(0, 16 * n),
      f: this.flags.subarray(0, n),
      c,
      tl,
      t: this.text.subarray(0, this.textLen),
    });
  }
}

/** Encodes ClickEvents in the version 1 format (tests, the ingest bench: what nodes before issue 13 send). */
export function encodeClickBatch(batch: ClickBatch): Uint8Array {
  const w = new ClickBatchWriter(Math.max(1, batch.events.length));
  for (const e of batch.events) w.add(e);
  return w.finish(batch.nodeId, batch.batchId);
}

export interface RejectedClick {
  /** Position in the batch. */
  index: number;
  id: string | null;
  reason: string;
}

export interface DecodedClickBatch {
  batch: ClickBatch;
  rejected: RejectedClick[];
}

/**
 * A decoded batch kept columnar (what ingest works on: no object per click). Only valid events;
 * `cols[f][i]` indexes `strings` (0 = null) for STRING_FIELDS[f] of event i.
 */
export interface ClickColumns {
  nodeId: string;
  batchId: string;
  n: number;
  strings: readonly string[];
  cols: Uint32Array[];
  /** 16 bytes per event: the UUIDv7 id. */
  ids: Uint8Array;
  /** 16 bytes per event: the visitor hash. */
  hashes: Uint8Array;
  /** Per event: 1 = bot, 2 = QR. */
  flags: Uint8Array;
  /** Per event: occurredAt (the id's timestamp). */
  times: Float64Array;
  rejected: RejectedClick[];
}

function bin(v: unknown, len: number, name: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== len) throw new ClickCodecError(`field ${name} must be ${len} bytes`);
  return v;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const COUNTRY = /^[A-Z]{2}$/;

/** Why string `s` cannot be field `f` (null if it can). */
function badString(f: StringField, s: string): string | null {
  if (s.length > MAX_LEN[f]) return `${f} longer than ${MAX_LEN[f]}`;
  if (f === 'country') return COUNTRY.test(s) ? null : 'country is not ISO 3166-1 alpha-2';
  if (CONTROL.test(s)) return `${f} contains control characters`;
  if (f === 'utm') {
    try {
      const o = JSON.parse(s) as unknown;
      if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'utm is not an object';
      for (const v of Object.values(o)) if (typeof v !== 'string') return 'utm values must be strings';
    } catch {
      return 'utm is not JSON';
    }
  }
  return null;
}

/** The texts of a message, with a check that their lengths add up. */
function textsOf(m: Record<string, unknown>, n: number): { lens: Uint8Array; text: Buffer } {
  const lens = bin(m.tl, 12 * n, 'tl');
  const t = m.t;
  if (!(t instanceof Uint8Array)) throw new ClickCodecError('field t must be bytes');
  const text = Buffer.from(t.buffer, t.byteOffset, t.byteLength);
  return { lens, text };
}

/** UTM snapshots by destination query (the node left them to the decoder): links of one campaign share them. */
const utmCache = new Map<string, string | null>();

function utmOf(destination: string): string | null {
  const q = destination.indexOf('?');
  if (q < 0 || destination.indexOf('utm_', q) < 0) return null;
  const key = destination.slice(q);
  let u = utmCache.get(key);
  if (u === undefined) {
    if (utmCache.size >= 10_000) utmCache.clear();
    utmCache.set(key, (u = utmSnapshot(destination)));
  }
  return u;
}

/**
 * A v2 message as v1's K string columns over one string table: the dictionary, then each
 * distinct text of the batch and each distinct UTM snapshot appended once.
 */
function v2Columns(m: Record<string, unknown>, n: number, dict: string[], dc: Uint16Array | Uint32Array): { strings: string[]; c: Uint32Array } {
  const { lens, text } = textsOf(m, n);
  const lv = Buffer.from(lens.buffer, lens.byteOffset, lens.byteLength);
  const strings = dict.slice();
  const index = new Map<string, number>();
  const intern = (x: string): number => {
    let i = index.get(x);
    if (i === undefined) {
      i = strings.length;
      strings.push(x);
      index.set(x, i);
    }
    return i;
  };
  const c = new Uint32Array(K * n);
  for (let f = 0; f < D; f++) {
    const to = DICT_TO_FIELD[f]! * n;
    for (let i = 0; i < n; i++) {
      const idx = dc[f * n + i]!;
      // an index past the dictionary is refused by the checks below, not read as a text
      c[to + i] = idx < dict.length ? idx : 0xffff_ffff;
    }
  }
  const utmByDestination = new Map<number, number>();
  let pos = 0;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < 3; t++) {
      const len = lv.readUInt32LE(12 * i + 4 * t);
      if (len > text.length - pos) throw new ClickCodecError('texts are shorter than their lengths');
      c[TEXT_TO_FIELD[t]! * n + i] = len === 0 ? 0 : intern(text.toString('utf8', pos, pos + len));
      pos += len;
    }
    const dest = c[4 * n + i]!;
    let u = utmByDestination.get(dest);
    if (u === undefined) {
      const snap = dest === 0 ? null : utmOf(strings[dest]!);
      utmByDestination.set(dest, (u = snap === null ? 0 : intern(snap)));
    }
    c[UTM_FIELD * n + i] = u;
  }
  if (pos !== text.length) throw new ClickCodecError('texts are longer than their lengths');
  return { strings, c };
}

/** Decodes and validates one message into columns. Throws ClickCodecError if the message as a whole is unusable. */
export function decodeClickColumns(bytes: Uint8Array): ClickColumns {
  let m: Record<string, unknown>;
  try {
    m = packr.unpack(bytes) as Record<string, unknown>;
  } catch (err) {
    throw new ClickCodecError('click batch is not valid msgpack', { cause: err });
  }
  if (typeof m !== 'object' || m === null) throw new ClickCodecError('click batch is not a map');
  if (m.v !== CLICK_EVENT_VERSION && m.v !== 2) throw new ClickCodecError(`unknown click batch version ${JSON.stringify(m.v)}`);
  const { node, batch, n, w, s } = m;
  if (typeof node !== 'string' || !NODE_ID.test(node)) throw new ClickCodecError('node must be a node id');
  if (typeof batch !== 'string' || batch.length < 1 || batch.length > 128) throw new ClickCodecError('batch must be an id');
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_EVENTS_PER_BATCH) throw new ClickCodecError('n is out of range');
  if (w !== 2 && w !== 4) throw new ClickCodecError('w must be 2 or 4');
  if (!Array.isArray(s) || s.length < 1 || s.length > n * K + 1 || s.some((x) => typeof x !== 'string')) {
    throw new ClickCodecError('s must be the string table');
  }
  const ids = bin(m.id, 16 * n, 'id');
  const hashes = bin(m.vh, 16 * n, 'vh');
  const flags = bin(m.f, n, 'f');
  const v2 = m.v === 2;
  const raw = bin(m.c, (v2 ? D : K) * n * w, 'c');
  // an aligned copy, so the columns can be read as typed arrays
  const aligned = new Uint8Array(raw.length);
  aligned.set(raw);
  let strings = s as string[];
  let c: Uint16Array | Uint32Array = w === 2 ? new Uint16Array(aligned.buffer, 0, (v2 ? D : K) * n) : new Uint32Array(aligned.buffer, 0, (v2 ? D : K) * n);
  if (v2) ({ strings, c } = v2Columns(m, n, strings, c));
  // each (field, string) pair is checked once, however many events share it
  const verdicts: (string | null | undefined)[][] = Array.from({ length: K }, () => []);
  const cols = Array.from({ length: K }, () => new Uint32Array(n));
  const outIds = new Uint8Array(16 * n);
  const outHashes = new Uint8Array(16 * n);
  const outFlags = new Uint8Array(n);
  const times = new Float64Array(n);
  const rejected: RejectedClick[] = [];
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (!isClickIdBytes(ids, 16 * i)) {
      rejected.push({ index: i, id: uuidText(ids, 16 * i), reason: 'id is not a UUIDv7' });
      continue;
    }
    let reason: string | null = null;
    for (let f = 0; f < K; f++) {
      const idx = c[f * n + i]!;
      const field = STRING_FIELDS[f]!;
      if (idx === 0) {
        if (REQUIRED.has(field)) {
          reason = `${field} is missing`;
          break;
        }
        cols[f]![k] = 0;
        continue;
      }
      const str = strings[idx];
      if (str === undefined) {
        reason = `${field} refers past the string table`;
        break;
      }
      let verdict = verdicts[f]![idx];
      if (verdict === undefined) {
        verdict = badString(field, str);
        if (verdict === null && REQUIRED.has(field) && str.length === 0) verdict = `${field} is empty`;
        verdicts[f]![idx] = verdict;
      }
      if (verdict !== null) {
        reason = verdict;
        break;
      }
      cols[f]![k] = idx;
    }
    if (reason !== null) {
      rejected.push({ index: i, id: uuidText(ids, 16 * i), reason });
      continue;
    }
    for (let b = 0; b < 16; b++) {
      outIds[16 * k + b] = ids[16 * i + b]!;
      outHashes[16 * k + b] = hashes[16 * i + b]!;
    }
    outFlags[k] = flags[i]!;
    times[k] = clickIdTime(ids, 16 * i);
    k++;
  }
  return {
    nodeId: node,
    batchId: batch,
    n: k,
    strings,
    cols: cols.map((col) => col.subarray(0, k)),
    ids: outIds.subarray(0, 16 * k),
    hashes: outHashes.subarray(0, 16 * k),
    flags: outFlags.subarray(0, k),
    times: times.subarray(0, k),
    rejected,
  };
}

/** Decodes and validates one message into ClickEvents. Throws ClickCodecError if the message as a whole is unusable. */
export function decodeClickBatch(bytes: Uint8Array): DecodedClickBatch {
  const d = decodeClickColumns(bytes);
  const utmObjects = new Map<number, Record<string, string>>();
  const hex = Buffer.from(d.hashes.buffer, d.hashes.byteOffset, d.hashes.byteLength).toString('hex');
  const str = (f: number, i: number): string | null => {
    const idx = d.cols[f]![i]!;
    return idx === 0 ? null : d.strings[idx]!;
  };
  const events: ClickEvent[] = [];
  for (let i = 0; i < d.n; i++) {
    let utm: Record<string, string> | null = null;
    const u = d.cols[13]![i]!;
    if (u !== 0) {
      utm = utmObjects.get(u) ?? null;
      if (!utm) utmObjects.set(u, (utm = JSON.parse(d.strings[u]!) as Record<string, string>));
    }
    events.push({
      v: CLICK_EVENT_VERSION,
      id: uuidText(d.ids, 16 * i),
      occurredAt: d.times[i]!,
      linkId: str(0, i)!,
      workspaceId: str(1, i)!,
      domain: str(2, i)!,
      path: str(3, i)!,
      destination: str(4, i)!,
      ruleId: str(5, i),
      variantId: str(6, i),
      country: str(7, i),
      deviceClass: str(8, i),
      os: str(9, i),
      browser: str(10, i),
      referrerHost: str(11, i),
      language: str(12, i),
      bot: (d.flags[i]! & 1) !== 0,
      qr: (d.flags[i]! & 2) !== 0,
      utm,
      nodeId: d.nodeId,
      visitorHash: hex.slice(32 * i, 32 * i + 32),
    });
  }
  return { batch: { v: CLICK_EVENT_VERSION, nodeId: d.nodeId, batchId: d.batchId, events }, rejected: d.rejected };
}
