/**
 * The hand-off of clicks from a serving thread to the node's main thread: a ring of records in a
 * SharedArrayBuffer, one writer (the serving thread) and one reader (the main thread), no locks,
 * no messages. A redirect writes one record — time, link strings, the peer's raw bytes and
 * references to interned header strings — with no object, closure or timer per click; the main
 * thread reads the records in batches and does everything else (client IP, visitor hash, geo,
 * device, referrer, language, UTM, encoding; click-collector.ts).
 *
 * Layout: an Int32 header (bytes written, bytes read, clicks dropped, records written), then the
 * data area. Counters only grow (mod 2^32); a position is `counter & (capacity - 1)`. Records
 * start 8-aligned and never wrap: one that would not fit before the end leaves a PAD record and
 * starts at 0. The writer publishes a record by storing `written` after its bytes (Atomics: the
 * reader sees the bytes once it sees the counter); the reader frees space by storing `read`.
 *
 * Interning: header values repeat (a few hundred user agents make most traffic), so the writer
 * gives each distinct value a number the first time it sees it, writes a DEF record with its
 * text, and later clicks carry only the number. The table is bounded: past MAX_IDS (8 192) the writer
 * starts over with a RESET record (the reader drops its table too). Per-link strings (link id,
 * path, destination) are written inline: over a million links they rarely repeat.
 *
 * A full ring drops the click (counted, reason `backlog`): redirects never wait for clicks.
 */
import type { ClickFacts } from '../resolve.js';
import type { ClickSink, StoredIds } from './click-sink.js';

const WRITTEN = 0;
const READ = 1;
const DROPPED = 2;
const CLICKS = 3;
const HEADER_BYTES = 64;

const T_CLICK = 1;
const T_DEF = 2;
const T_RESET = 3;
const T_PAD = 4;

/**
 * Interned strings per writer before it starts a new table: bounds the memory both sides keep for
 * them (at most 1 KiB each, so ≤ 8 MiB per side even when every request brings a new user agent).
 */
export const MAX_IDS = 8192;
/**
 * Slots of the writer's fingerprint cache (a power of two): with 1 024 and a few hundred user agents
 * plus a thousand forwarded-for values, two in three lookups fell through to the table (measured
 * with the bench's visitor header sets: 41 % misses; 4 096 slots and the fingerprint below: 13 %).
 */
const FP_SLOTS = 4096;
/** Characters a fingerprint reads from each end of a value (user agents differ in their versions, near the end). */
const FP_TAIL = 24;
const FP_HEAD = 8;
/** Longest header value kept (user agents past 1 KiB are cut, as the hash and device parser cut them). */
const MAX_HEADER_CHARS = 1024;
/** Longest X-Forwarded-For kept: its right end (the hops our proxies added). */
const MAX_XFF_CHARS = 512;

/** Click record: fixed part (bytes), then linkId, path and destination. */
const C_AT = 8; // f64
const C_PEER = 16; // 16 bytes
const C_IDS = 32; // 11 × u32: domain, workspace, rule, variant, country, os, device, xff, ua, referer, language
const C_LENS = 76; // 3 × u32: linkId, path, destination (bit 31: UTF-8, else Latin-1/ASCII)
const C_FIXED = 88;
const UTF8 = 0x8000_0000;

/** The string-id slots of a click record (ClickRingReader.id). */
export const RING_SLOT = { domain: 0, workspace: 1, rule: 2, variant: 3, country: 4, os: 5, device: 6, forwardedFor: 7, userAgent: 8, referer: 9, language: 10 } as const;

const ID_DOMAIN = 0;
const ID_WORKSPACE = 1;
const ID_RULE = 2;
const ID_VARIANT = 3;
const ID_COUNTRY = 4;
const ID_OS = 5;
const ID_DEVICE = 6;
const ID_XFF = 7;
const ID_UA = 8;
const ID_REFERER = 9;
const ID_LANGUAGE = 10;

/** Flags (second u32 of a record, above the type byte). */
const F_QR = 0x100;
const F_PEER4 = 0x200;
const F_PEER16 = 0x400;

/** A cheap hash of a header value's length, last FP_TAIL and first FP_HEAD characters (FNV-1a steps). */
function fingerprint(s: string): number {
  const n = s.length;
  let h = Math.imul(n, 0x9e3779b1);
  const tail = n > FP_TAIL ? n - FP_TAIL : 0;
  for (let i = n - 1; i >= tail; i--) h = Math.imul(h ^ s.charCodeAt(i), 0x0100_0193);
  const head = tail < FP_HEAD ? tail : FP_HEAD;
  for (let i = 0; i < head; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x0100_0193);
  return h ^ (h >>> 13);
}

/**
 * Texts at least this long (a destination URL) are copied by Buffer's native UTF-8 writer: under
 * callgrind the character loop made `click` 6.5 k instructions per click; shorter ones (ids,
 * paths) stay in the loop, cheaper than the call.
 */
const NATIVE_STR = 32;
/** Buffer's undocumented direct writer (what `write(s, at, 'utf8')` calls after its argument checks). */
interface Utf8Writer {
  utf8Write(s: string, offset: number, length: number): number;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Bytes of records per serving thread. A bench click takes ~220 bytes (88 fixed, the link id, path
 * and destination), so 2 MiB hold ~9 500 clicks: at 80 % of a serving thread's saturation (30–50 000
 * redirects/s with capture on in the full run of 2026-12-03) 240–400 ms of clicks, against a reader
 * that drains every 10 ms. The ring is resident once written around: 8 MiB were 8 MB of RSS per
 * serving thread (docs/performance.md, issue 13).
 */
export const CLICK_RING_BYTES = 2 * 1024 * 1024;

/** A ring's shared memory: `capacity` bytes of records (a power of two) after the header. */
export function createClickRing(capacity = CLICK_RING_BYTES): SharedArrayBuffer {
  if (capacity < 4096 || (capacity & (capacity - 1)) !== 0) throw new Error(`click ring capacity ${capacity} must be a power of two ≥ 4096`);
  return new SharedArrayBuffer(HEADER_BYTES + capacity);
}

class RingView {
  readonly hdr: Int32Array;
  readonly u32: Uint32Array;
  readonly f64: Float64Array;
  readonly bytes: Buffer;
  readonly cap: number;
  readonly mask: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.hdr = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.cap = buffer.byteLength - HEADER_BYTES;
    this.mask = this.cap - 1;
    this.u32 = new Uint32Array(buffer, HEADER_BYTES, this.cap / 4);
    this.f64 = new Float64Array(buffer, HEADER_BYTES, this.cap / 8);
    this.bytes = Buffer.from(buffer, HEADER_BYTES, this.cap);
  }

  /** Clicks dropped because the ring was full. */
  get dropped(): number {
    return Atomics.load(this.hdr, DROPPED) >>> 0;
  }

  /** Click records written since the ring was made. */
  get clicks(): number {
    return Atomics.load(this.hdr, CLICKS) >>> 0;
  }

  /** Bytes written and not yet read. */
  get pending(): number {
    return (Atomics.load(this.hdr, WRITTEN) - Atomics.load(this.hdr, READ)) >>> 0;
  }
}

/**
 * The serving thread's side. `click` is called once per redirect with the decision's click facts
 * and the raw visit facts copied out of the request; it returns at once and never throws.
 */
export class ClickRingWriter extends RingView implements ClickSink {
  readonly enabled = true;
  #ids = new Map<string, number>();
  /** This click's string ids, before its record is reserved (DEF records go first). */
  readonly #ids32 = new Int32Array(11);
  #next = 1;
  #w: number;
  /**
   * The reader's position as last loaded: it only grows, so space computed from it is never more
   * than there is, and `READ` is loaded again only when a record does not fit (an `Atomics.load`
   * per click was a builtin call).
   */
  #rd: number;
  /**
   * The last string of the slots that rarely change between clicks (domain, workspace, referer,
   * language) and its id: comparing with the previous click's value is cheaper than hashing a
   * fresh string for the table. Cleared with the table.
   */
  readonly #memo: (string | null)[] = [null, null, null, null];
  readonly #memoId = new Int32Array(4);
  /**
   * A direct-mapped cache in front of the table, indexed by a fingerprint of a few characters: a
   * header value uWS hands over is a fresh string, and a `Map` lookup hashes all of it (a user agent:
   * ~100 characters) while comparing it with the slot's string stops at the first difference.
   */
  readonly #fpStr: (string | null)[] = new Array<string | null>(FP_SLOTS).fill(null);
  readonly #fpId = new Int32Array(FP_SLOTS);
  /**
   * The workspace id of the previous click given as stored bytes, and its string id: a node's
   * clicks mostly repeat the workspace, and comparing ~30 bytes is cheaper than making a string of
   * them and looking it up (-1: none; cleared with the table).
   */
  readonly #wsBytes = new Uint8Array(256);
  #wsLen = -1;
  #wsId = 0;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#w = Atomics.load(this.hdr, WRITTEN);
    this.#rd = Atomics.load(this.hdr, READ);
    // a restarted serving thread: whatever table its predecessor left is void
    this.#reset();
  }

  #reset(): boolean {
    const at = this.#reserve(8);
    if (at < 0) return false;
    this.u32[at >> 2] = 8;
    this.u32[(at >> 2) + 1] = T_RESET;
    this.#commit(8);
    this.#ids.clear();
    this.#next = 1;
    this.#memo.fill(null);
    this.#fpStr.fill(null);
    this.#wsLen = -1;
    return true;
  }

  /**
   * A position for `size` bytes (8-aligned, not wrapping), or -1 when the ring has no room. A PAD
   * record fills the tail when the record does not fit before the end.
   */
  #reserve(size: number): number {
    const pos = this.#w & this.mask;
    const tail = this.cap - pos;
    const need = size <= tail ? size : tail + size;
    if (((this.#w - this.#rd) >>> 0) + need > this.cap) {
      this.#rd = Atomics.load(this.hdr, READ);
      if (((this.#w - this.#rd) >>> 0) + need > this.cap) return -1;
    }
    if (size <= tail) return pos;
    this.u32[pos >> 2] = tail;
    this.u32[(pos >> 2) + 1] = T_PAD;
    this.#w = (this.#w + tail) | 0;
    return 0;
  }

  #commit(size: number): void {
    this.#w = (this.#w + size) | 0;
    Atomics.store(this.hdr, WRITTEN, this.#w);
  }

  /** Writes `s` at byte `at`; returns its length field (bytes, bit 31 set when UTF-8). */
  #str(s: string, at: number): number {
    const b = this.bytes;
    const n = s.length;
    if (n >= NATIVE_STR) {
      // one native copy: as many bytes as characters means every character was ASCII
      const len = (b as unknown as Utf8Writer).utf8Write(s, at, 3 * n);
      return len === n ? n : (len | UTF8) >>> 0;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 127) return (b.write(s, at, 'utf8') | UTF8) >>> 0;
      b[at + i] = c;
    }
    return n;
  }

  /**
   * Copies stored bytes `[from, to)` of `src` to byte `at`; returns their length field (bit 31 set
   * when any byte is not ASCII: the ids are stored as UTF-8).
   */
  #copy(src: Buffer, from: number, to: number, at: number): number {
    const b = this.bytes;
    let hi = 0;
    for (let i = from; i < to; i++) {
      const c = src[i]!;
      hi |= c;
      b[at + i - from] = c;
    }
    const n = to - from;
    return hi > 127 ? (n | UTF8) >>> 0 : n;
  }

  /** The id of the workspace id stored at `[from, to)` of `src`, through the previous click's. */
  #workspace(src: Buffer, from: number, to: number): number {
    const n = to - from;
    const m = this.#wsBytes;
    if (n === this.#wsLen) {
      let i = 0;
      while (i < n && m[i] === src[from + i]) i++;
      if (i === n) return this.#wsId;
    }
    const id = this.#id(src.toString('utf8', from, to));
    if (id > 0 && n <= m.length) {
      for (let i = 0; i < n; i++) m[i] = src[from + i]!;
      this.#wsLen = n;
      this.#wsId = id;
    }
    return id;
  }

  /** The id of `s` (0 for null), defining it first if new; -1 when the ring is full. */
  #id(s: string | null): number {
    if (s === null) return 0;
    const slot = fingerprint(s) & (FP_SLOTS - 1);
    if (this.#fpStr[slot] === s) return this.#fpId[slot]!;
    const known = this.#ids.get(s);
    if (known !== undefined) {
      this.#fpStr[slot] = s;
      this.#fpId[slot] = known;
      return known;
    }
    if (this.#next > MAX_IDS && !this.#reset()) return -1;
    const size = align8(16 + Buffer.byteLength(s));
    const at = this.#reserve(size);
    if (at < 0) return -1;
    const id = this.#next++;
    this.u32[at >> 2] = size;
    this.u32[(at >> 2) + 1] = T_DEF;
    this.u32[(at >> 2) + 2] = id;
    this.u32[(at >> 2) + 3] = this.#str(s, at + 16);
    this.#commit(size);
    this.#ids.set(s, id);
    this.#fpStr[slot] = s;
    this.#fpId[slot] = id;
    return id;
  }

  /** `#id` through the memo of slot `m` (0–3). */
  #memoized(m: number, s: string): number {
    if (s === this.#memo[m]) return this.#memoId[m]!;
    const id = this.#id(s);
    if (id > 0) {
      this.#memo[m] = s;
      this.#memoId[m] = id;
    }
    return id;
  }

  #drop(): void {
    Atomics.add(this.hdr, DROPPED, 1);
  }

  click(c: ClickFacts, peer: Uint8Array | null, forwardedFor: string, userAgent: string, referer: string, acceptLanguage: string, stored: StoredIds | null = null): void {
    try {
      const value = stored === null ? null : stored.value;
      // a table that may not take this click's strings starts over now, before any of its ids is
      // taken: a new table in the middle of a click left its earlier ids pointing at nothing
      if (this.#next > MAX_IDS - 11 && !this.#reset()) return this.#drop();
      const ids = this.#ids32;
      ids[ID_DOMAIN] = this.#memoized(0, c.domain);
      ids[ID_WORKSPACE] = value !== null ? this.#workspace(value, stored!.wsAt, stored!.wsEnd) : this.#memoized(1, c.workspaceId);
      ids[ID_RULE] = this.#id(c.ruleId);
      ids[ID_VARIANT] = this.#id(c.variantId);
      ids[ID_COUNTRY] = this.#id(c.country);
      ids[ID_OS] = this.#id(c.os);
      ids[ID_DEVICE] = this.#id(c.device);
      ids[ID_XFF] = this.#id(forwardedFor.length > MAX_XFF_CHARS ? forwardedFor.slice(-MAX_XFF_CHARS) : forwardedFor);
      ids[ID_UA] = this.#id(userAgent.length > MAX_HEADER_CHARS ? userAgent.slice(0, MAX_HEADER_CHARS) : userAgent);
      ids[ID_REFERER] = this.#memoized(2, referer.length > MAX_HEADER_CHARS ? referer.slice(0, MAX_HEADER_CHARS) : referer);
      ids[ID_LANGUAGE] = this.#memoized(3, acceptLanguage.length > MAX_HEADER_CHARS ? acceptLanguage.slice(0, MAX_HEADER_CHARS) : acceptLanguage);
      let full = false;
      for (let i = 0; i < 11; i++) if (ids[i]! < 0) full = true;
      // upper bound: 3 bytes per UTF-16 unit
      const idBytes = value !== null ? stored!.wsAt - stored!.idAt : 3 * c.linkId.length;
      const max = align8(C_FIXED + idBytes + 3 * (c.path.length + c.destination.length));
      if (full || max > this.cap / 4) return this.#drop();
      const at = this.#reserve(max);
      if (at < 0) return this.#drop();
      const q = at >> 2;
      const u = this.u32;
      this.f64[(at + C_AT) >> 3] = c.at;
      let flags = T_CLICK | (c.qr ? F_QR : 0);
      if (peer !== null && (peer.length === 4 || peer.length === 16)) {
        // a byte loop: TypedArray.prototype.set is a builtin call for 4 bytes
        const b = this.bytes;
        const n = peer.length;
        for (let i = 0; i < n; i++) b[at + C_PEER + i] = peer[i]!;
        flags |= n === 4 ? F_PEER4 : F_PEER16;
      }
      u[q + 1] = flags;
      for (let i = 0; i < 11; i++) u[q + (C_IDS >> 2) + i] = ids[i]!;
      let p = at + C_FIXED;
      const l0 = value !== null ? this.#copy(value, stored!.idAt, stored!.wsAt, p) : this.#str(c.linkId, p);
      p += l0 & ~UTF8;
      const l1 = this.#str(c.path, p);
      p += l1 & ~UTF8;
      const l2 = this.#str(c.destination, p);
      p += l2 & ~UTF8;
      u[q + (C_LENS >> 2)] = l0;
      u[q + (C_LENS >> 2) + 1] = l1;
      u[q + (C_LENS >> 2) + 2] = l2;
      const size = align8(p - at);
      u[q] = size;
      this.#commit(size);
      this.hdr[CLICKS]!++; // one writer: no atomic add needed (readers use Atomics.load)
    } catch {
      this.#drop();
    }
  }
}

/** One click as read back: the decision's facts and the raw visit facts. */
export interface RingClick {
  click: ClickFacts;
  /** The peer's raw bytes (4 or 16), or null. A view into a reused buffer: read it before the next record. */
  peer: Uint8Array | null;
  forwardedFor: string;
  userAgent: string;
  referer: string;
  acceptLanguage: string;
  /** Interned ids of the header values (stable until `generation` changes): callers may cache by them. */
  userAgentId: number;
  forwardedForId: number;
  refererId: number;
  languageId: number;
  /** Bumped whenever the writer starts a new string table. */
  generation: number;
}

/** The main thread's side of one ring. */
export class ClickRingReader extends RingView {
  #strings: (string | null)[] = [null];
  #r: number;
  readonly #peer4: Uint8Array;
  readonly #peer16: Uint8Array;
  generation = 0;

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#r = Atomics.load(this.hdr, READ);
    this.#peer4 = new Uint8Array(4);
    this.#peer16 = new Uint8Array(16);
  }

  #text(at: number, len: number): string {
    const n = len & ~UTF8;
    return (len & UTF8) !== 0 ? this.bytes.toString('utf8', at, at + n) : this.bytes.toString('latin1', at, at + n);
  }

  #s(id: number): string | null {
    return this.#strings[id] ?? null;
  }

  /** One record object, refilled for every click (no allocation per click beyond its strings). */
  readonly #rec: RingClick = {
    click: { linkId: '', workspaceId: '', domain: '', path: '', destination: '', ruleId: null, variantId: null, country: null, os: null, device: null, qr: false, at: 0 },
    peer: null, forwardedFor: '', userAgent: '', referer: '', acceptLanguage: '', userAgentId: 0, forwardedForId: 0, refererId: 0, languageId: 0, generation: 0,
  };

  /**
   * Reads up to `max` click records, calling `each` with the byte position of every one (read its
   * fields with the accessors below during the call: the space is freed afterwards). Definitions and
   * resets of the string table are applied on the way. Returns the number of clicks read.
   */
  drainRecords(max: number, each: (at: number) => void): number {
    const end = Atomics.load(this.hdr, WRITTEN);
    const u = this.u32;
    let n = 0;
    try {
      while (n < max && this.#r !== end) {
        const at = this.#r & this.mask;
        const q = at >> 2;
        const size = u[q]!;
        if (size === 0 || (size & 7) !== 0) throw new Error(`click ring corrupt at ${at} (record size ${size})`);
        const type = u[q + 1]! & 0xff;
        if (type === T_DEF) {
          this.#strings[u[q + 2]!] = this.#text(at + 16, u[q + 3]!);
        } else if (type === T_RESET) {
          this.#strings = [null];
          this.generation++;
        } else if (type === T_CLICK) {
          each(at);
          n++;
        }
        this.#r = (this.#r + size) | 0;
      }
    } finally {
      Atomics.store(this.hdr, READ, this.#r);
    }
    return n;
  }

  /** The interned string `id` (null for 0 or unknown). */
  string(id: number): string | null {
    return this.#strings[id] ?? null;
  }

  /** The click's time (epoch ms). */
  time(at: number): number {
    return this.f64[(at + C_AT) >> 3]!;
  }

  /** True when the click is a QR scan. */
  qr(at: number): boolean {
    return (this.u32[(at >> 2) + 1]! & F_QR) !== 0;
  }

  /** The peer's address length (4, 16, or 0 when none); its bytes start at `peerAt(at)`. */
  peerLength(at: number): number {
    const f = this.u32[(at >> 2) + 1]!;
    return (f & F_PEER4) !== 0 ? 4 : (f & F_PEER16) !== 0 ? 16 : 0;
  }

  peerAt(at: number): number {
    return at + C_PEER;
  }

  /** The string id in `slot` (RING_SLOT) of the click at `at`. */
  id(at: number, slot: number): number {
    return this.u32[(at >> 2) + (C_IDS >> 2) + slot]!;
  }

  /** Byte length of text `t` (0 link id, 1 path, 2 destination); the texts follow each other from `textAt`. */
  textLength(at: number, t: number): number {
    return this.u32[(at >> 2) + (C_LENS >> 2) + t]! & ~UTF8;
  }

  textAt(at: number): number {
    return at + C_FIXED;
  }

  /** Whether text `t` is UTF-8 (else its bytes are ASCII). */
  textIsUtf8(at: number, t: number): boolean {
    return (this.u32[(at >> 2) + (C_LENS >> 2) + t]! & UTF8) !== 0;
  }

  /**
   * Reads up to `max` clicks as objects, calling `each` for every one. The record (and its `click`)
   * is the same object every time, refilled: copy what you keep. Returns the number read.
   */
  drain(max: number, each: (c: RingClick) => void): number {
    const u = this.u32;
    return this.drainRecords(max, (at) => {
      const q = at >> 2;
      const ids = q + (C_IDS >> 2);
      const l0 = u[q + (C_LENS >> 2)]!;
      const l1 = u[q + (C_LENS >> 2) + 1]!;
      const l2 = u[q + (C_LENS >> 2) + 2]!;
      let p = at + C_FIXED;
      const linkId = this.#text(p, l0);
      p += l0 & ~UTF8;
      const path = this.#text(p, l1);
      p += l1 & ~UTF8;
      const destination = this.#text(p, l2);
      const len = this.peerLength(at);
      const peer = len === 4 ? this.#peer4 : len === 16 ? this.#peer16 : null;
      if (peer !== null) for (let i = 0; i < peer.length; i++) peer[i] = this.bytes[at + C_PEER + i]!;
      const rec = this.#rec;
      const c = rec.click;
      c.linkId = linkId;
      c.workspaceId = this.#s(u[ids + ID_WORKSPACE]!) ?? '';
      c.domain = this.#s(u[ids + ID_DOMAIN]!) ?? '';
      c.path = path;
      c.destination = destination;
      c.ruleId = this.#s(u[ids + ID_RULE]!);
      c.variantId = this.#s(u[ids + ID_VARIANT]!);
      c.country = this.#s(u[ids + ID_COUNTRY]!);
      c.os = this.#s(u[ids + ID_OS]!);
      c.device = this.#s(u[ids + ID_DEVICE]!);
      c.qr = this.qr(at);
      c.at = this.time(at);
      rec.peer = peer;
      rec.forwardedFor = this.#s(u[ids + ID_XFF]!) ?? '';
      rec.userAgent = this.#s(u[ids + ID_UA]!) ?? '';
      rec.referer = this.#s(u[ids + ID_REFERER]!) ?? '';
      rec.acceptLanguage = this.#s(u[ids + ID_LANGUAGE]!) ?? '';
      rec.userAgentId = u[ids + ID_UA]!;
      rec.forwardedForId = u[ids + ID_XFF]!;
      rec.refererId = u[ids + ID_REFERER]!;
      rec.languageId = u[ids + ID_LANGUAGE]!;
      rec.generation = this.generation;
      each(rec);
    });
  }
}
