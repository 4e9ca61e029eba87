/**
 * The per-worker click buffer: the ClickSink a redirect hands its click to, after the response is
 * written. `capture` only keeps references (the strings the handler already copied out of the
 * request); every 250 ms or 1 000 clicks — on a later tick, never inside a request — the buffer
 * turns them into click events (visitor hash, country, device, referrer host, language, UTM) and
 * hands one encoded batch to `emit` (the main thread spools and ships it). Raw IPs and user agents
 * never leave this module: they go into the hash and are dropped.
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
import type { ClickSink, VisitFacts } from './click-sink.js';
import { referrerHost } from './referrer.js';
import { utmSnapshot } from './utm-snapshot.js';
import { truncatedIp, VisitorHasher, type SaltSource } from './visitor-hash.js';

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

export class ClickBuffer implements ClickSink {
  readonly enabled = true;
  private clicks: ClickFacts[] = [];
  private visits: VisitFacts[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private readonly maxEvents: number;
  private readonly flushMs: number;
  private readonly hasher: VisitorHasher;
  private readonly localSalts = new Map<number, Buffer>();
  private readonly countries = new BoundedCache<string, string | null>(20_000);
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

  capture(click: ClickFacts, visit: VisitFacts): void {
    this.clicks.push(click);
    this.visits.push(visit);
    this.captured++;
    if (this.clicks.length >= this.maxEvents) {
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    } else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.flushMs);
    }
  }

  /** Encodes and emits everything buffered now (timer, size, drain on SIGTERM). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const clicks = this.clicks;
    const visits = this.visits;
    if (clicks.length === 0) return;
    this.clicks = [];
    this.visits = [];
    let w = new ClickBatchWriter(Math.min(clicks.length, this.maxEvents));
    for (let i = 0; i < clicks.length; i++) {
      this.add(w, clicks[i]!, visits[i]!);
      if (w.count >= this.maxEvents || w.bytes >= CLICK_BATCH_MAX_BYTES) {
        this.send(w);
        w = new ClickBatchWriter(Math.min(clicks.length - i, this.maxEvents));
      }
    }
    if (w.count > 0) this.send(w);
  }

  /** Flushes and stops the timers (the worker is going away). */
  close(): void {
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.flush();
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

  private add(w: ClickBatchWriter, c: ClickFacts, v: VisitFacts): void {
    const ip = v.peer.length > 0 ? clientIp(v.peer, v.forwardedFor, this.opts.trustedProxies ?? []) : null;
    const net = truncatedIp(ip);
    let country = c.country;
    if (country === null && ip !== null) {
      const cached = this.countries.get(net);
      if (cached === undefined) this.countries.set(net, (country = this.opts.geo.country(ip)));
      else country = cached;
    }
    const ua = v.userAgent;
    const d = this.opts.device(ua);
    let language = this.languages.get(v.acceptLanguage);
    if (language === undefined) this.languages.set(v.acceptLanguage, (language = preferredLanguage(v.acceptLanguage)));
    let referrer = this.referrers.get(v.referer);
    if (referrer === undefined) this.referrers.set(v.referer, (referrer = referrerHost(v.referer)));
    let utm = this.utms.get(c.destination);
    if (utm === undefined) this.utms.set(c.destination, (utm = utmSnapshot(c.destination)));
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
        utmJson: utm,
      },
      null,
      hash,
    );
  }
}
