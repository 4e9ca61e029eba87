import { describe, expect, it } from 'vitest';
import { decodeClickBatch } from '../../shared/index.js';
import { defaultGeoipDb } from '../config.js';
import { createDeviceDetector } from '../device.js';
import { loadGeoDatabase, openGeo } from '../geo.js';
import { parseCidr, parseIp } from '../ip.js';
import type { ClickFacts } from '../resolve.js';
import { ClickBuffer } from './click-buffer.js';
import type { VisitFacts } from './click-sink.js';
import { visitorHash } from './visitor-hash.js';

const geo = openGeo(loadGeoDatabase(defaultGeoipDb()));
const device = createDeviceDetector(1000);
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 26, 23, 59, 59, 900);
const SALTS = new Map([[Math.floor(T0 / DAY), Buffer.alloc(32, 1)], [Math.floor(T0 / DAY) + 1, Buffer.alloc(32, 2)]]);

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

function click(i: number, over: Partial<ClickFacts> = {}): ClickFacts {
  return {
    linkId: 'ln_01JD0000000000000000000001', workspaceId: 'ws_01JD0000000000000000000001', domain: 'go.example.com',
    path: 'spring', destination: 'https://example.org/landing?utm_source=news&utm_medium=email', ruleId: null, variantId: null,
    country: null, os: null, device: null, qr: false, at: T0 + i, ...over,
  };
}

/** `peer` as text for readability ('' = uWS gave no address). */
const visit = ({ peer = '81.2.69.160', ...over }: Partial<Omit<VisitFacts, 'peer'>> & { peer?: string } = {}): VisitFacts => ({
  peer: parseIp(peer), forwardedFor: '', userAgent: IPHONE, referer: 'https://news.ycombinator.com/item?id=42', acceptLanguage: 'de-DE,de;q=0.9,en;q=0.8', ...over,
});

function buffer(emitted: { bytes: Uint8Array; events: number; id: string }[], opts: Partial<ConstructorParameters<typeof ClickBuffer>[0]> = {}) {
  return new ClickBuffer({
    nodeId: 'node-a', geo, device, salts: (d) => SALTS.get(d), maxEvents: 1000, flushMs: 10_000,
    emit: (bytes, events, id) => emitted.push({ bytes, events, id }), ...opts,
  });
}

describe('click buffer', () => {
  it('never encodes inside capture; encodes part of what waits per tick; ships full batches of 1 000 at once', async () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out);
    for (let i = 0; i < 2500; i++) b.capture(click(i), visit());
    expect(out).toEqual([]); // the request that filled the buffer is not delayed by encoding
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([]); // one tick encodes a chunk, not a batch: requests interleave
    const ticks = await new Promise<number>((resolve) => {
      let n = 1;
      const tick = () => (out.length === 2 ? resolve(n) : (n++, setImmediate(tick)));
      setImmediate(tick);
    });
    expect(ticks).toBeGreaterThanOrEqual(3); // a quarter of what waits (at least 64) per turn
    expect(out.map((o) => o.events)).toEqual([1000, 1000]);
    for (let i = 2500; i < 2510; i++) b.capture(click(i), visit());
    b.close(); // SIGTERM: the rest goes out now, not after flushMs
    expect(out.map((o) => o.events)).toEqual([1000, 1000, 510]);
    const ids = out.flatMap((o) => decodeClickBatch(o.bytes).batch.events.map((e) => e.occurredAt));
    expect(ids).toEqual(Array.from({ length: 2510 }, (_, i) => T0 + i));
    expect(new Set(out.map((o) => o.id)).size).toBe(3);
    expect(b.captured).toBe(2510);
    expect(b.emitted).toBe(2510);
  });

  it('a flood of clicks per turn (pipelined requests at saturation) is drained, not queued without bound', async () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out);
    let waiting = 0;
    let held = 0;
    for (let turn = 0; turn < 200; turn++) {
      for (let i = 0; i < 500; i++) b.capture(click(turn * 500 + i), visit());
      await new Promise((r) => setImmediate(r));
      waiting = Math.max(waiting, b.captured - b.emitted);
      held = Math.max(held, b.held);
    }
    // 500 arrive per turn, a chunk of 64 would fall 436 behind each turn (87 000 after 200 turns)
    expect(waiting).toBeLessThan(5000);
    // and what was encoded is let go, though the queue never empties under this load
    expect(held).toBeLessThan(5000);
    b.close();
    expect(b.emitted).toBe(100_000);
  });

  it('a partial batch leaves flushMs after its oldest click, also when clicks keep arriving', async () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out, { flushMs: 60 });
    const t0 = Date.now();
    const feeder = setInterval(() => b.capture(click(Date.now() - t0), visit()), 5);
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(feeder);
    b.close();
    // a batch about every 60 ms, never one that grew for the whole 200 ms
    expect(out.length).toBeGreaterThanOrEqual(3);
    for (const o of out.slice(0, -1)) {
      const at = decodeClickBatch(o.bytes).batch.events.map((e) => e.occurredAt);
      expect(at.at(-1)! - at[0]!).toBeLessThan(60 + 25);
    }
  });

  it('flushes a partial batch after flushMs', async () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out, { flushMs: 30 });
    b.capture(click(1), visit());
    b.capture(click(2), visit());
    expect(out).toEqual([]);
    await new Promise((r) => setTimeout(r, 80));
    expect(out.map((o) => o.events)).toEqual([2]);
  });

  it('builds the click event from the decision and the visit: geo, device, referrer host, language, UTM, hash', () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out);
    b.capture(click(0, { ruleId: 'r1', variantId: 'b', qr: true }), visit());
    b.capture(click(200), visit({ peer: '8.8.8.8', userAgent: GOOGLEBOT, referer: '', acceptLanguage: '' }));
    b.capture(click(1, { country: 'FR' }), visit({ peer: '', userAgent: '' }));
    b.close();
    const { batch, rejected } = decodeClickBatch(out[0]!.bytes);
    expect(rejected).toEqual([]);
    const [a, bot, unknown] = batch.events;
    expect(a).toMatchObject({
      occurredAt: T0, linkId: 'ln_01JD0000000000000000000001', ruleId: 'r1', variantId: 'b', country: 'GB', deviceClass: 'mobile',
      os: 'ios', browser: 'Mobile Safari', referrerHost: 'news.ycombinator.com', language: 'de-de', bot: false, qr: true,
      utm: { source: 'news', medium: 'email' }, nodeId: 'node-a',
      visitorHash: visitorHash(SALTS.get(Math.floor(T0 / DAY))!, parseIp('81.2.69.160'), IPHONE).toString('hex'),
    });
    // 200 ms later it is the next UTC day: that day's salt
    expect(bot).toMatchObject({ country: 'US', deviceClass: 'bot', bot: true, referrerHost: null, language: null });
    expect(bot!.visitorHash).toBe(visitorHash(SALTS.get(Math.floor(T0 / DAY) + 1)!, parseIp('8.8.8.8'), GOOGLEBOT).toString('hex'));
    expect(unknown).toMatchObject({ country: 'FR', bot: true, deviceClass: 'bot' }); // an empty agent counts as a bot
  });

  it('UTM snapshots: per destination query (shared by a campaign\'s links), none without utm_ parameters', () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out);
    const dests = [
      'https://example.org/a?utm_source=news&utm_medium=email',
      'https://example.org/b?utm_source=news&utm_medium=email',
      'https://example.org/c?utm_source=ads&utm_campaign=spring%20sale#top',
      'https://example.org/d?ref=utm_source',
      'https://example.org/utm_source=x',
      'https://example.org/a?utm_source=news&utm_medium=email',
    ];
    dests.forEach((destination, i) => b.capture(click(i, { destination }), visit()));
    b.close();
    expect(decodeClickBatch(out[0]!.bytes).batch.events.map((e) => e.utm)).toEqual([
      { source: 'news', medium: 'email' },
      { source: 'news', medium: 'email' },
      { source: 'ads', campaign: 'spring sale' },
      null,
      null,
      { source: 'news', medium: 'email' },
    ]);
  });

  it('the same visitor hashes alike within a day and differently on two days', () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out);
    b.capture(click(-60_000), visit()); // 23:58:59.900, day 1
    b.capture(click(0), visit()); // 23:59:59.900, day 1
    b.capture(click(100), visit()); // 00:00:00.000, day 2
    b.capture(click(3_600_000), visit()); // an hour later, day 2
    b.close();
    const h = decodeClickBatch(out[0]!.bytes).batch.events.map((e) => e.visitorHash);
    expect(h[0]).toBe(h[1]);
    expect(h[2]).toBe(h[3]);
    expect(h[1]).not.toBe(h[2]);
  });

  it('takes the client IP from X-Forwarded-For only when the peer is a trusted proxy', () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out, { trustedProxies: [parseCidr('10.0.0.0/8')!] });
    b.capture(click(0), visit({ peer: '10.1.2.3', forwardedFor: '8.8.8.8, 81.2.69.160' }));
    b.capture(click(1), visit({ peer: '192.0.2.9', forwardedFor: '81.2.69.160' }));
    b.close();
    const [proxied, direct] = decodeClickBatch(out[0]!.bytes).batch.events;
    expect(proxied!.country).toBe('GB');
    expect(proxied!.visitorHash).toBe(visitorHash(SALTS.get(Math.floor(T0 / DAY))!, parseIp('81.2.69.160'), IPHONE).toString('hex'));
    expect(direct!.country).toBeNull(); // 192.0.2.9 (TEST-NET) has no country; its XFF is not believed
    expect(direct!.visitorHash).toBe(visitorHash(SALTS.get(Math.floor(T0 / DAY))!, parseIp('192.0.2.9'), IPHONE).toString('hex'));
  });

  it('puts no raw IP and no full user agent into the batch', () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const b = buffer(out);
    const ips = ['81.2.69.160', '2a00:1450:4001:81c::200e', '192.0.2.33'];
    for (const [i, addr] of ips.entries()) b.capture(click(i), visit({ peer: addr }));
    b.close();
    const raw = Buffer.from(out[0]!.bytes);
    for (const addr of [...ips, '81.2.69', '2a00:1450', IPHONE, 'AppleWebKit', 'Version/17.0']) expect(raw.includes(addr)).toBe(false);
  });

  it('hashes with a worker-local salt, and says so, when a day has no shared salt yet', () => {
    const out: { bytes: Uint8Array; events: number; id: string }[] = [];
    const missing: number[] = [];
    const b = buffer(out, { salts: () => undefined, onMissingSalt: (d) => missing.push(d) });
    b.capture(click(0), visit());
    b.capture(click(1), visit());
    b.close();
    expect(missing).toEqual([Math.floor(T0 / DAY)]);
    const events = decodeClickBatch(out[0]!.bytes).batch.events;
    expect(events[0]!.visitorHash).toBe(events[1]!.visitorHash);
    expect(events[0]!.visitorHash).toMatch(/^[0-9a-f]{32}$/);
  });
});
