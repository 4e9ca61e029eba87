/**
 * Click capture on the node's main thread: reads the serving threads' click rings (click-ring.ts)
 * every few milliseconds, a chunk per event-loop turn, and writes each click into the current
 * batch (shared/click-codec.ts, version 2). Each batch goes to `emit` (the spool). The serving
 * threads do nothing for a click but write its record.
 *
 * A click is encoded from the ring's bytes as they are: its link texts are copied into the batch
 * without becoming strings, and everything derived from an interned header value (device, OS,
 * browser and bot from the user agent, the referrer's host, the preferred language, the client IP
 * behind a trusted proxy) is computed once per value of the ring's string table and kept by its
 * id, as is the value's index in the current batch's dictionary: a click costs array reads, not
 * map lookups of fresh strings. The visitor hash (raw IP + user agent) and the country are made
 * here and only here: neither the raw IP nor the user agent leaves the node. The UTM snapshot is
 * derived from the destination by the decoder (the control plane's ingest).
 */
import { ClickBatchWriterV2, CLICK_BATCH_MAX_BYTES, DICT, newClickId, type Logger } from '../../shared/index.js';
import { BoundedCache } from '../bounded-cache.js';
import { clientIp } from '../client-ip.js';
import type { DeviceDetector, DeviceInfo } from '../device.js';
import type { Geo } from '../geo.js';
import { anyCidrContains, ipFromBytes, type Cidr, type Ip } from '../ip.js';
import { preferredLanguage } from '../language.js';
import { ClickRingReader, MAX_IDS, RING_SLOT } from './click-ring.js';
import { referrerHost } from './referrer.js';
import { networkKey, VisitorHasher, type SaltSource } from './visitor-hash.js';

export interface ClickCollectorOptions {
  nodeId: string;
  geo: Geo;
  device: DeviceDetector;
  trustedProxies: readonly Cidr[];
  salts: SaltSource;
  maxEvents: number;
  flushMs: number;
  /**
   * How often the rings are read while clicks arrive (ms). Idle rings are read less and less often,
   * down to once per IDLE_MAX_MS (less when `flushMs` is short), and at this pace again once a read
   * finds a click.
   */
  drainMs?: number;
  /** An encoded batch (a view of a reused buffer: copy what you keep). */
  emit(data: Uint8Array, events: number, batchId: string): void;
  log: Logger;
}

/** Clicks encoded per event-loop turn: the main thread also ships, spools and answers the workers. */
const CHUNK = 256;
/**
 * The longest pause between two reads of idle rings. A serving thread's ring (CLICK_RING_BYTES,
 * 2 MiB) holds ~9 500 clicks of ~220 bytes: 190–320 ms at 30–50 000 clicks/s, a serving thread's
 * saturation. A burst that starts just after a read fills at most this pause's worth (≤ 2 500
 * clicks at 50 000/s) before its first read; from then on the rings are read every `drainMs` (and
 * a chunk per event-loop turn while there is more).
 */
export const IDLE_MAX_MS = 50;
const DAY_MS = 86_400_000;
const IDS = MAX_IDS + 1;

/**
 * What the collector knows per id of one ring's string table (valid for one generation of it):
 * values derived from the header, and each value's dictionary index in the current batch (valid
 * while its stamp is the batch's number).
 */
class RingState {
  generation = -1;
  readonly device: (DeviceInfo | undefined)[] = [];
  readonly referrer: (string | null | undefined)[] = [];
  readonly language: (string | null | undefined)[] = [];
  /** Client IP by X-Forwarded-For id (behind a trusted peer). */
  readonly forwarded: (Ip | undefined)[] = [];
  /** The country of that client IP, by the same id. */
  readonly country: (string | null | undefined)[] = [];
  /** Visitor hashes by user-agent id, then network. */
  hashes: (Map<number, Uint8Array> | undefined)[] = [];
  /** Batch stamp and dictionary index: the string itself (domain, workspace, rule, variant, rule country). */
  readonly stamp = new Int32Array(IDS);
  readonly index = new Int32Array(IDS);
  /** … the device class, OS and browser of a user agent. */
  readonly uaStamp = new Int32Array(IDS);
  readonly uaIndex = new Int32Array(3 * IDS);
  /** … the referrer host and the language. */
  readonly refStamp = new Int32Array(IDS);
  readonly refIndex = new Int32Array(IDS);
  readonly langStamp = new Int32Array(IDS);
  readonly langIndex = new Int32Array(IDS);

  /** The collector's encoder bound to this ring, made once (one call target for the reader's loop). */
  each: (at: number) => void = () => undefined;

  constructor(readonly reader: ClickRingReader) {}

  /** The reader's table started over: every id means something new. */
  renew(generation: number): void {
    this.generation = generation;
    this.device.length = 0;
    this.referrer.length = 0;
    this.language.length = 0;
    this.forwarded.length = 0;
    this.country.length = 0;
    this.hashes = [];
    this.stamp.fill(0);
    this.uaStamp.fill(0);
    this.refStamp.fill(0);
    this.langStamp.fill(0);
  }
}

export class ClickCollector {
  readonly #rings = new Map<number, RingState>();
  /** The same, as an array (what a read walks: no iterator per read). */
  #list: RingState[] = [];
  readonly #drainMs: number;
  /** The longest pause between reads of idle rings (IDLE_MAX_MS, bounded by flushMs). */
  readonly #idleMaxMs: number;
  /** The pause before the next read: drainMs after a read that found clicks, doubling while none come. */
  #wait: number;
  #running = false;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  /** Parsed peers by IPv4 address (a node's peers are its load balancers, or a few clients). */
  readonly #peers = new Map<number, Ip | null>();
  readonly #peer16 = new Uint8Array(16);
  readonly #countries = new BoundedCache<number, string | null>(20_000);
  readonly #hasher: VisitorHasher;
  readonly #localSalts = new Map<number, Uint8Array>();
  /** The batch being filled, its number (the stamps of RingState) and its flush timer. */
  #writer: ClickBatchWriterV2 | null = null;
  /** The last batch's writer, emptied: the next batch reuses its buffers. */
  #spare: ClickBatchWriterV2 | null = null;
  #batchNo = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  /** The UTC day of the hashes cached in the rings' states, and the salt they were made with. */
  #day = -1;
  #salt: Uint8Array | null = null;
  /** Clicks read from the rings. */
  received = 0;
  /** Timed reads of the rings (an idle node's wake-ups: tests, diagnosis). */
  polls = 0;
  /** Clicks encoded / emitted since start. */
  captured = 0;
  emitted = 0;

  constructor(private readonly opts: ClickCollectorOptions) {
    this.#drainMs = opts.drainMs ?? 10;
    // a click may wait a pause before it is read: the pause stays well inside its flush time
    this.#idleMaxMs = Math.max(this.#drainMs, Math.min(IDLE_MAX_MS, Math.floor(opts.flushMs / 4)));
    this.#wait = this.#drainMs;
    this.#hasher = new VisitorHasher((day) => opts.salts(day) ?? this.#localSalt(day), 0);
  }

  /** The ring of serving thread `index` (a restarted thread keeps its ring). */
  ring(index: number, buffer: SharedArrayBuffer): void {
    if (this.#rings.get(index)?.reader.buffer === buffer) return;
    const st = new RingState(new ClickRingReader(buffer));
    st.each = (at) => this.#encode(st, at);
    this.#rings.set(index, st);
    this.#list = [...this.#rings.values()];
    // a new ring (a serving thread started): read at the busy pace again
    this.#rearm(this.#drainMs);
  }

  /** Clicks the serving threads dropped because their ring was full. */
  get dropped(): number {
    let n = 0;
    for (const r of this.#list) n += r.reader.dropped;
    return n;
  }

  /** Bytes of click records written and not yet read. */
  get pendingBytes(): number {
    let n = 0;
    for (const r of this.#list) n += r.reader.pending;
    return n;
  }

  /** Clicks held in memory (the batch being filled). */
  get held(): number {
    return this.#writer?.count ?? 0;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#wait = this.#drainMs;
    this.#timer = setTimeout(this.#tick, this.#wait);
  }

  /** The next read in `ms` (sooner than planned), unless a chunk is under way. */
  #rearm(ms: number): void {
    if (!this.#running || this.#immediate !== null || ms >= this.#wait) return;
    this.#wait = ms;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#tick, ms);
  }

  #localSalt(day: number): Uint8Array {
    let s = this.#localSalts.get(day);
    if (!s) {
      s = crypto.getRandomValues(new Uint8Array(32));
      this.#localSalts.set(day, s);
      for (const d of this.#localSalts.keys()) if (d < day - 1) this.#localSalts.delete(d);
      this.opts.log.warn({ day: new Date(day * DAY_MS).toISOString().slice(0, 10) }, 'no shared visitor salt for this day yet: hashing with a node-local one');
    }
    return s;
  }

  /** The peer of the click at `at`, parsed once per IPv4 address. */
  #peer(r: ClickRingReader, at: number): Ip | null {
    const len = r.peerLength(at);
    if (len === 0) return null;
    const b = r.bytes;
    const p = r.peerAt(at);
    if (len === 16) {
      const v6 = this.#peer16;
      for (let i = 0; i < 16; i++) v6[i] = b[p + i]!;
      return ipFromBytes(v6);
    }
    const key = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    let ip = this.#peers.get(key);
    if (ip === undefined) {
      if (this.#peers.size >= 4096) this.#peers.clear();
      this.#peers.set(key, (ip = ipFromBytes(b.subarray(p, p + 4))));
    }
    return ip;
  }

  /** The last peer checked against TRUSTED_PROXIES, and the answer (a node's peers are a few load balancers). */
  #lastPeer: Ip | null = null;
  #lastPeerTrusted = false;

  /** The visitor's address: the peer, or the one its trusted proxies vouch for (client-ip.ts), cached by the header's id. */
  #client(st: RingState, peer: Ip | null, xffId: number): Ip | null {
    const trusted = this.opts.trustedProxies;
    if (xffId === 0 || peer === null || trusted.length === 0) return peer;
    if (peer !== this.#lastPeer) {
      this.#lastPeer = peer;
      this.#lastPeerTrusted = anyCidrContains(trusted, peer);
    }
    if (!this.#lastPeerTrusted) return peer;
    let ip = st.forwarded[xffId];
    if (ip === undefined) {
      const found = clientIp(peer, st.reader.string(xffId) ?? '', trusted);
      // garbage where the nearest address should be: the peer itself, not cached (it varies)
      if (found === null || found === peer) return found;
      st.forwarded[xffId] = ip = found;
    }
    return ip;
  }

  /** The batch's dictionary index of ring string `id` (0 for none). */
  #dict(st: RingState, w: ClickBatchWriterV2, id: number): number {
    if (id === 0) return 0;
    if (st.stamp[id] === this.#batchNo) return st.index[id]!;
    const i = w.intern(st.reader.string(id));
    st.stamp[id] = this.#batchNo;
    st.index[id] = i;
    return i;
  }

  /** Encodes the click at `at` of ring `st` into the current batch. */
  #encode(st: RingState, at: number): void {
    const r = st.reader;
    if (r.generation !== st.generation) st.renew(r.generation);
    let w = this.#writer;
    if (w === null) {
      w = this.#writer = this.#spare ?? new ClickBatchWriterV2(this.opts.maxEvents);
      this.#spare = null;
      this.#batchNo++;
      // the batch leaves flushMs after its first click was made: minus the time that click waited
      // in the ring (at most a pause between reads; more only when the reader is behind, and then
      // batches fill and leave anyway)
      const waited = Date.now() - r.time(at);
      this.#flushTimer ??= setTimeout(this.#expire, this.opts.flushMs - (waited <= 0 ? 0 : waited < this.#idleMaxMs ? waited : this.#idleMaxMs));
    }
    const b = this.#batchNo;
    const time = r.time(at);
    const xffId = r.id(at, RING_SLOT.forwardedFor);
    const ip = this.#client(st, this.#peer(r, at), xffId);
    // the client IP came from this ring's cache by X-Forwarded-For id: its country is cached there too
    const viaXff = ip !== null && st.forwarded[xffId] === ip;
    const net = networkKey(ip);

    // the user agent: device, OS, browser, bot (parsed once per distinct agent), and the hash
    const uaId = r.id(at, RING_SLOT.userAgent);
    let d = st.device[uaId];
    if (d === undefined) st.device[uaId] = d = this.opts.device(r.string(uaId) ?? '');
    const day = Math.floor(time / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#forgetHashes();
    }
    let byNet = st.hashes[uaId];
    if (byNet === undefined) st.hashes[uaId] = byNet = new Map();
    let hash = byNet.get(net);
    if (hash === undefined) {
      this.#salt ??= this.opts.salts(day) ?? this.#localSalt(day);
      hash = this.#hasher.hash(day, ip, r.string(uaId) ?? '')!;
      if (byNet.size >= 64) byNet.clear();
      byNet.set(net, hash);
    }

    const row = w.begin(time, (d.bot ? 1 : 0) | (r.qr(at) ? 2 : 0));
    const hashes = w.hashes;
    for (let i = 0, o = 16 * row; i < 16; i++) hashes[o + i] = hash[i]!;

    w.dict(DICT.workspaceId, this.#dict(st, w, r.id(at, RING_SLOT.workspace)));
    w.dict(DICT.domain, this.#dict(st, w, r.id(at, RING_SLOT.domain)));
    w.dict(DICT.ruleId, this.#dict(st, w, r.id(at, RING_SLOT.rule)));
    w.dict(DICT.variantId, this.#dict(st, w, r.id(at, RING_SLOT.variant)));
    const ruleCountry = r.id(at, RING_SLOT.country);
    if (ruleCountry !== 0) w.dict(DICT.country, this.#dict(st, w, ruleCountry));
    else if (ip !== null) {
      let country = viaXff ? st.country[xffId] : undefined;
      if (country === undefined) {
        country = this.#countries.get(net);
        if (country === undefined) this.#countries.set(net, (country = this.opts.geo.country(ip)));
        if (viaXff) st.country[xffId] = country;
      }
      if (country !== null) w.dict(DICT.country, w.intern(country));
    }
    if (st.uaStamp[uaId] !== b) {
      st.uaStamp[uaId] = b;
      st.uaIndex[3 * uaId] = w.intern(d.device);
      st.uaIndex[3 * uaId + 1] = w.intern(d.os);
      st.uaIndex[3 * uaId + 2] = w.intern(d.browser);
    }
    w.dict(DICT.deviceClass, st.uaIndex[3 * uaId]!);
    w.dict(DICT.os, st.uaIndex[3 * uaId + 1]!);
    w.dict(DICT.browser, st.uaIndex[3 * uaId + 2]!);
    const refId = r.id(at, RING_SLOT.referer);
    if (refId !== 0) {
      if (st.refStamp[refId] !== b) {
        let host = st.referrer[refId];
        if (host === undefined) st.referrer[refId] = host = referrerHost(r.string(refId) ?? '');
        st.refStamp[refId] = b;
        st.refIndex[refId] = w.intern(host);
      }
      w.dict(DICT.referrerHost, st.refIndex[refId]!);
    }
    const langId = r.id(at, RING_SLOT.language);
    if (langId !== 0) {
      if (st.langStamp[langId] !== b) {
        let lang = st.language[langId];
        if (lang === undefined) {
          lang = preferredLanguage(r.string(langId) ?? '');
          st.language[langId] = lang = lang !== null && lang.length <= 35 ? lang : null;
        }
        st.langStamp[langId] = b;
        st.langIndex[langId] = w.intern(lang);
      }
      w.dict(DICT.language, st.langIndex[langId]!);
    }

    // the link's texts, as the ring holds them (ASCII or UTF-8)
    let p = r.textAt(at);
    for (let t = 0; t < 3; t++) {
      const len = r.textLength(at, t);
      w.textBytes(t, r.bytes, p, len);
      p += len;
    }
    w.end();
    this.captured++;
    if (w.count >= this.opts.maxEvents || w.bytes >= CLICK_BATCH_MAX_BYTES) this.#send();
  }

  readonly #expire = (): void => {
    this.#flushTimer = null;
    this.#send();
  };

  #send(): void {
    const w = this.#writer;
    this.#writer = null;
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (w === null) return;
    if (w.count === 0) {
      this.#spare = w;
      return;
    }
    const batchId = newClickId(Date.now());
    const events = w.count;
    const data = w.finish(this.opts.nodeId, batchId);
    w.reset();
    this.#spare = w;
    this.opts.emit(data, events, batchId);
    this.emitted += events;
  }

  /** Drops the cached visitor hashes (a new day, or the day's salt replaced). */
  #forgetHashes(): void {
    this.#salt = null;
    for (const s of this.#list) s.hashes = [];
  }

  /** Reads up to `max` clicks over the rings; returns how many. */
  #drain(max: number): number {
    const list = this.#list;
    // idle rings (the usual case of a timed read on a quiet node): two counters each, nothing else
    let written = false;
    for (let i = 0; i < list.length; i++) if (list[i]!.reader.pending !== 0) written = true;
    if (!written) return 0;
    // the day's salt may have changed since the last chunk (VisitorSalts adopting the shared salt
    // after a node-local one): hashes made with the old one would count a visitor twice
    if (this.#salt !== null && (this.opts.salts(this.#day) ?? this.#localSalts.get(this.#day)) !== this.#salt) this.#forgetHashes();
    let n = 0;
    for (let i = 0; i < list.length; i++) {
      const st = list[i]!;
      if (n >= max) break;
      try {
        n += st.reader.drainRecords(max - n, st.each);
      } catch (err) {
        this.opts.log.error({ err }, 'could not read a click ring');
      }
    }
    this.received += n;
    return n;
  }

  /**
   * A read of the rings, timed or right after a full chunk. A full chunk: there may be more; I/O
   * goes in between, then the next chunk. Otherwise the next read comes after a pause: drainMs if
   * this read found clicks, else twice the last pause, up to the idle maximum.
   */
  readonly #tick = (): void => {
    this.#timer = null;
    this.#immediate = null;
    if (!this.#running) return;
    this.polls++;
    const n = this.#drain(CHUNK);
    if (n === CHUNK) {
      this.#immediate = setImmediate(this.#tick);
      return;
    }
    const wait = n > 0 ? this.#drainMs : this.#wait * 2;
    this.#wait = wait < this.#idleMaxMs ? wait : this.#idleMaxMs;
    this.#timer = setTimeout(this.#tick, this.#wait);
  };

  /** Reads and encodes every click written so far and emits the partial batch (drain, tests). */
  flush(): void {
    while (this.#drain(CHUNK) === CHUNK);
    this.#send();
  }

  /** Flushes and stops reading. */
  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = null;
    this.flush();
  }
}
