/**
 * The click encoder: turns a click's decision facts and raw visit facts into a click event
 * (visitor hash, country, device, referrer host, language, UTM) and hands each encoded batch —
 * 1 000 clicks, or fewer once the oldest waited 250 ms — to `emit`. On the node it runs on the main
 * thread (click-collector.ts feeds it from the serving threads' click rings with `encodeNow`);
 * `capture` queues a click and encodes later, a few dozen per event-loop turn (tests, the
 * micro-benchmark). Raw IPs and user agents never leave this module: they go into the hash and
 * are dropped.
 */
import { randomBytes } from 'node:crypto';
import { ClickBatchWriter, newClickId, CLICK_BATCH_MAX_BYTES } from '../../shared/index.js';
import { BoundedCache } from '../bounded-cache.js';
import { clientIp } from '../client-ip.js';
import type { DeviceDetector } from '../device.js';
import type { Geo } from '../geo.js';
import type { Cidr } from '../ip.js';
import { preferredLanguage } from '../language.js';
import type { ClickFacts } from '../resolve.js';
import type { VisitFacts } from './click-sink.js';
import { referrerHost } from './referrer.js';
import { utmSnapshot } from '../../shared/index.js';
import { networkKey, VisitorHasher, type SaltSource } from './visitor-hash.js';

export interface ClickBufferOptions {
  nodeId: string;
  geo: Geo;
  device: DeviceDetector;
  salts: SaltSource;
  /** Proxies whose X-Forwarded-For is believed (the node's TRUSTED_PROXIES). */
  trustedProxies?: readonly Cidr[];
  /** Receives each encoded batch (also the message's Nats-Msg-Id: `batchId`). */
  emit(batch: Uint8Array, events: number, batchId: string): void;
  maxEvents?: number;
  flushMs?: number;
  /** Called when a day has no shared salt yet and a worker-local one is used (once per day). */
  onMissingSalt?(day: number): void;
}

const DAY_MS = 86_400_000;

/** Clicks encoded per turn of the event loop (at least): encoding costs a few µs per click, and requests wait meanwhile. */
const ENCODE_CHUNK = 64;

export class ClickBuffer {
  private clicks: ClickFacts[] = [];
  private visits: VisitFacts[] = [];
  /** The next click of `clicks` to encode. */
  private next = 0;
  /** The batch being filled, once a click of it was encoded. */
  private writer: ClickBatchWriter | null = null;
  /** The oldest click not yet emitted must leave by then: the batch goes out partial. */
  private timer: NodeJS.Timeout | null = null;
  private due = false;
  private immediate: NodeJS.Immediate | null = null;
  private readonly maxEvents: number;
  private readonly flushMs: number;
  private readonly hasher: VisitorHasher;
  private readonly localSalts = new Map<number, Buffer>();
  private readonly countries = new BoundedCache<number, string | null>(20_000);
  private readonly languages = new BoundedCache<string, string | null>(2_000);
  private readonly referrers = new BoundedCache<string, string | null>(10_000);
  private readonly utms = new BoundedCache<string, string | null>(10_000);
  /** Clicks captured / emitted since start (for metrics). */
  captured = 0;
  emitted = 0;

  constructor(private readonly opts: ClickBufferOptions) {
    this.maxEvents = opts.maxEvents ?? 1000;
    this.flushMs = opts.flushMs ?? 250;
    this.hasher = new VisitorHasher((day) => opts.salts(day) ?? this.localSalt(day));
  }

  /** Clicks this buffer holds in memory, encoded or not (bounded under any load). */
  get held(): number {
    return this.clicks.length;
  }

  capture(click: ClickFacts, visit: VisitFacts): void {
    this.clicks.push(click);
    this.visits.push(visit);
    this.captured++;
    // a chunk at a time: one turn per click would spin the event loop (pending immediates make it poll without waiting)
    if (this.clicks.length - this.next >= ENCODE_CHUNK) this.immediate ??= setImmediate(this.step);
    this.timer ??= setTimeout(this.expire, this.flushMs);
  }

  private readonly expire = (): void => {
    this.timer = null;
    this.due = true;
    this.immediate ??= setImmediate(this.step);
  };

  /**
   * One turn of background encoding: at most ENCODE_CHUNK clicks, so requests arriving meanwhile
   * wait a fraction of a millisecond, never the few ms a whole batch takes. A full batch is emitted
   * at once; a partial one when its oldest click has waited flushMs.
   */
  private readonly step = (): void => {
    this.immediate = null;
    // at least a quarter of what waits: when a turn brings more clicks than a chunk (pipelined
    // requests at saturation), the queue drains instead of growing without bound
    this.encode(Math.max(ENCODE_CHUNK, Math.ceil((this.clicks.length - this.next) / 4)));
    const left = this.clicks.length - this.next;
    // let go of what was encoded (under steady load the queue is never empty: without this the
    // arrays kept every click since start)
    if (left === 0) {
      this.clicks = [];
      this.visits = [];
      this.next = 0;
    } else if (this.next >= 1024) {
      this.clicks = this.clicks.slice(this.next);
      this.visits = this.visits.slice(this.next);
      this.next = 0;
    }
    if (left >= ENCODE_CHUNK || (this.due && left > 0)) {
      this.immediate = setImmediate(this.step);
      return;
    }
    if (this.due) {
      this.due = false;
      this.sendWriter();
    }
  };

  /** Encodes up to `limit` pending clicks, emitting every batch that fills up. */
  private encode(limit: number): void {
    const end = Math.min(this.clicks.length, this.next + limit);
    for (let i = this.next; i < end; i++) {
      this.writer ??= new ClickBatchWriter(this.maxEvents);
      this.add(this.writer, this.clicks[i]!, this.visits[i]!);
      if (this.writer.count >= this.maxEvents || this.writer.bytes >= CLICK_BATCH_MAX_BYTES) this.sendWriter();
    }
    this.next = end;
  }

  private sendWriter(): void {
    const w = this.writer;
    this.writer = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (w !== null && w.count > 0) this.send(w);
    // clicks still waiting start a new batch: they may wait flushMs from now at most
    if (this.next < this.clicks.length) this.timer = setTimeout(this.expire, this.flushMs);
  }

  /**
   * Encodes one click at once: the node's main thread, which reads the serving threads' click
   * rings in chunks of its own (click-collector.ts), so nothing needs queueing here. A full batch
   * is emitted at once, a partial one flushMs after its first click.
   */
  encodeNow(click: ClickFacts, visit: VisitFacts): void {
    this.captured++;
    this.writer ??= new ClickBatchWriter(this.maxEvents);
    this.add(this.writer, click, visit);
    if (this.writer.count >= this.maxEvents || this.writer.bytes >= CLICK_BATCH_MAX_BYTES) this.sendWriter();
    else this.timer ??= setTimeout(this.expire, this.flushMs);
  }

  /** Encodes and emits everything buffered, now (tests; drain on SIGTERM). */
  flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.encode(Infinity);
    this.clicks = [];
    this.visits = [];
    this.next = 0;
    this.due = false;
    this.sendWriter();
  }

  /** Flushes and stops the timers (the worker is going away). */
  close(): void {
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private send(w: ClickBatchWriter): void {
    const batchId = newClickId(Date.now());
    const events = w.count;
    this.opts.emit(w.finish(this.opts.nodeId, batchId), events, batchId);
    this.emitted += events;
  }

  private localSalt(day: number): Buffer {
    let s = this.localSalts.get(day);
    if (!s) {
      s = randomBytes(32);
      this.localSalts.set(day, s);
      for (const d of this.localSalts.keys()) if (d < day - 1) this.localSalts.delete(d);
      this.opts.onMissingSalt?.(day);
    }
    return s;
  }

  /**
   * The UTM snapshot of a destination, cached by its query string: links of one campaign differ in
   * their path but share their utm_* parameters, so the cache hits where a cache by URL would not.
   */
  private utmOf(destination: string): string | null {
    const q = destination.indexOf('?');
    if (q < 0 || destination.indexOf('utm_', q) < 0) return null;
    return this.utms.through(destination.slice(q), utmSnapshot);
  }

  private add(w: ClickBatchWriter, c: ClickFacts, v: VisitFacts): void {
    const ip = clientIp(v.peer, v.forwardedFor, this.opts.trustedProxies ?? []);
    let country = c.country;
    if (country === null && ip !== null) {
      const net = networkKey(ip);
      const cached = this.countries.get(net);
      if (cached === undefined) this.countries.set(net, (country = this.opts.geo.country(ip)));
      else country = cached;
    }
    const ua = v.userAgent;
    const d = this.opts.device(ua);
    // empty headers (common) skip their caches
    const language = v.acceptLanguage.length > 0 ? this.languages.through(v.acceptLanguage, preferredLanguage) : null;
    const referrer = v.referer.length > 0 ? this.referrers.through(v.referer, referrerHost) : null;
    const hash = this.hasher.hash(Math.floor(c.at / DAY_MS), ip, ua)!;
    w.addRaw(
      {
        occurredAt: c.at,
        linkId: c.linkId,
        workspaceId: c.workspaceId,
        domain: c.domain,
        path: c.path,
        destination: c.destination,
        ruleId: c.ruleId,
        variantId: c.variantId,
        country,
        deviceClass: d.device,
        os: d.os,
        browser: d.browser,
        referrerHost: referrer,
        language: language !== null && language.length <= 35 ? language : null,
        bot: d.bot,
        qr: c.qr,
        utmJson: this.utmOf(c.destination),
      },
      null,
      hash,
    );
  }
}
