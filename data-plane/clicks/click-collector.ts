/**
 * Click capture on the node's main thread: reads the serving threads' click rings (click-ring.ts)
 * every few milliseconds, a chunk per event-loop turn, and encodes each click into the current
 * batch (click-buffer.ts: visitor hash, geo, device, referrer, language, UTM). Each batch goes to
 * `emit` (the spool). The serving threads do nothing for a click but write its record.
 */
import type { Logger } from '../../shared/index.js';
import type { DeviceDetector } from '../device.js';
import type { Geo } from '../geo.js';
import { clientIp } from '../client-ip.js';
import { anyCidrContains, ipFromBytes, type Cidr, type Ip } from '../ip.js';
import { ClickBuffer } from './click-buffer.js';
import type { VisitFacts } from './click-sink.js';
import { ClickRingReader, type RingClick } from './click-ring.js';
import type { SaltSource } from './visitor-hash.js';

export interface ClickCollectorOptions {
  nodeId: string;
  geo: Geo;
  device: DeviceDetector;
  trustedProxies: readonly Cidr[];
  salts: SaltSource;
  maxEvents: number;
  flushMs: number;
  /** How often the rings are read (ms); a click waits this long at most before it is encoded. */
  drainMs?: number;
  /** An encoded batch (a view of a reused buffer: copy what you keep). */
  emit(data: Uint8Array, events: number, batchId: string): void;
  log: Logger;
}

/** Clicks encoded per event-loop turn: the main thread also ships, spools and answers the workers. */
const CHUNK = 256;

export class ClickCollector {
  readonly buffer: ClickBuffer;
  readonly #rings = new Map<number, ClickRingReader>();
  readonly #drainMs: number;
  #timer: NodeJS.Timeout | null = null;
  #immediate: NodeJS.Immediate | null = null;
  /** Parsed peers by IPv4 address (a node's peers are its load balancers, or a few clients). */
  readonly #peers = new Map<number, Ip | null>();
  /**
   * Client IPs by X-Forwarded-For value, behind a trusted proxy (the value alone decides then).
   * The ring hands the same interned string for a repeated value, so a hit costs no parsing.
   */
  readonly #forwarded = new Map<string, Ip>();
  /** Clicks read from the rings. */
  received = 0;

  constructor(private readonly opts: ClickCollectorOptions) {
    this.#drainMs = opts.drainMs ?? 10;
    this.buffer = new ClickBuffer({
      nodeId: opts.nodeId,
      geo: opts.geo,
      device: opts.device,
      trustedProxies: opts.trustedProxies,
      salts: opts.salts,
      maxEvents: opts.maxEvents,
      flushMs: opts.flushMs,
      emit: opts.emit,
      onMissingSalt: (day) => opts.log.warn({ day: new Date(day * 86_400_000).toISOString().slice(0, 10) }, 'no shared visitor salt for this day yet: hashing with a node-local one'),
    });
  }

  /** The ring of serving thread `index` (a restarted thread keeps its ring). */
  ring(index: number, buffer: SharedArrayBuffer): void {
    if (this.#rings.get(index)?.buffer !== buffer) this.#rings.set(index, new ClickRingReader(buffer));
  }

  /** Clicks the serving threads dropped because their ring was full. */
  get dropped(): number {
    let n = 0;
    for (const r of this.#rings.values()) n += r.dropped;
    return n;
  }

  /** Bytes of click records written and not yet read. */
  get pendingBytes(): number {
    let n = 0;
    for (const r of this.#rings.values()) n += r.pending;
    return n;
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      if (this.#immediate === null) this.#tick();
    }, this.#drainMs);
  }

  #peer(b: Uint8Array | null): Ip | null {
    if (b === null) return null;
    if (b.length !== 4) return ipFromBytes(b);
    const key = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    let ip = this.#peers.get(key);
    if (ip === undefined) {
      if (this.#peers.size >= 4096) this.#peers.clear();
      this.#peers.set(key, (ip = ipFromBytes(b)));
    }
    return ip;
  }

  /** The last peer checked against TRUSTED_PROXIES, and the answer (a node's peers are a few load balancers). */
  #lastPeer: Ip | null = null;
  #lastPeerTrusted = false;

  /** The visitor's address: the peer, or the one its trusted proxies vouch for (client-ip.ts). */
  #client(peer: Ip | null, xff: string): Ip | null {
    const trusted = this.opts.trustedProxies;
    if (xff.length === 0 || peer === null || trusted.length === 0) return peer;
    if (peer !== this.#lastPeer) {
      this.#lastPeer = peer;
      this.#lastPeerTrusted = anyCidrContains(trusted, peer);
    }
    if (!this.#lastPeerTrusted) return peer;
    let ip = this.#forwarded.get(xff);
    if (ip === undefined) {
      const found = clientIp(peer, xff, trusted);
      // garbage where the nearest address should be: the peer itself, not cached (it varies)
      if (found === null || found === peer) return found;
      if (this.#forwarded.size >= 20_000) this.#forwarded.clear();
      this.#forwarded.set(xff, (ip = found));
    }
    return ip;
  }

  /** Refilled for every click: the encoder reads it synchronously and keeps nothing of it. */
  readonly #visit: VisitFacts = { peer: null, forwardedFor: '', userAgent: '', referer: '', acceptLanguage: '' };

  readonly #encode = (c: RingClick): void => {
    const v = this.#visit;
    // resolved here (cached): the encoder's own clientIp then returns it as is
    v.peer = this.#client(this.#peer(c.peer), c.forwardedFor);
    v.userAgent = c.userAgent;
    v.referer = c.referer;
    v.acceptLanguage = c.acceptLanguage;
    this.buffer.encodeNow(c.click, v);
  };

  /** Reads up to `max` clicks over the rings; returns how many. */
  #drain(max: number): number {
    let n = 0;
    for (const r of this.#rings.values()) {
      if (n >= max) break;
      try {
        n += r.drain(max - n, this.#encode);
      } catch (err) {
        this.opts.log.error({ err }, 'could not read a click ring');
      }
    }
    this.received += n;
    return n;
  }

  readonly #tick = (): void => {
    this.#immediate = null;
    // a full chunk: there may be more; let I/O in between, then go on
    if (this.#drain(CHUNK) === CHUNK) this.#immediate = setImmediate(this.#tick);
  };

  /** Reads and encodes every click written so far and emits the partial batch (drain, tests). */
  flush(): void {
    while (this.#drain(CHUNK) === CHUNK);
    this.buffer.flush();
  }

  /** Flushes and stops reading. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#immediate = null;
    this.flush();
    this.buffer.close();
  }
}
