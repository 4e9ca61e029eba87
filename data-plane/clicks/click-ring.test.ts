import { describe, expect, it } from 'vitest';
import { decodeClickBatch, type Logger } from '../../shared/index.js';
import { defaultGeoipDb } from '../config.js';
import { createDeviceDetector } from '../device.js';
import { loadGeoDatabase, openGeo } from '../geo.js';
import { parseCidr, parseIp } from '../ip.js';
import type { ClickFacts } from '../resolve.js';
import { ClickCollector } from './click-collector.js';
import { ClickRingReader, ClickRingWriter, createClickRing, MAX_IDS, type RingClick } from './click-ring.js';
import { compiled } from '../test/fixtures.js';
import { decodeLink, encodeLink } from '../store/value-codec.js';
import { visitorHash } from './visitor-hash.js';

const T0 = Date.UTC(2026, 11, 3, 7, 0, 0, 123);
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

function click(i: number, over: Partial<ClickFacts> = {}): ClickFacts {
  return {
    linkId: `ln_01JD00000000000000000${String(i).padStart(5, '0')}`, workspaceId: 'ws_01JD0000000000000000000001', domain: 'go.example.com',
    path: `p${i}`, destination: `https://example.org/landing/${i}?utm_source=news`, ruleId: null, variantId: null,
    country: null, os: null, device: null, qr: false, at: T0 + i, ...over,
  };
}

/** What a reader hands out, copied (the record object and peer view are reused). */
function readAll(r: ClickRingReader, max = Infinity): (Omit<RingClick, 'peer'> & { peer: number[] | null })[] {
  const out: (Omit<RingClick, 'peer'> & { peer: number[] | null })[] = [];
  r.drain(max, (c) => out.push({ ...c, click: { ...c.click }, peer: c.peer && [...c.peer] }));
  return out;
}

const V4 = new Uint8Array([81, 2, 69, 160]);

describe('click ring', () => {
  it('carries every fact of a click: link strings (ASCII and UTF-8), rule facts, peer bytes (v4, v6, none), headers', () => {
    const buf = createClickRing(64 * 1024);
    const w = new ClickRingWriter(buf);
    const r = new ClickRingReader(buf);
    const v6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    w.click(click(1), V4, '', IPHONE, 'https://news.ycombinator.com/item?id=42', 'de-DE,de;q=0.9');
    w.click(click(2, { path: 'früh/😀', destination: 'https://example.org/é?x=ü', ruleId: 'r1', variantId: 'b', country: 'FR', os: 'ios', device: 'mobile', qr: true }), v6, '8.8.8.8, 81.2.69.160', '', '', '');
    w.click(click(3), null, '', IPHONE, '', 'de-DE,de;q=0.9');
    const got = readAll(r);
    expect(got.map((g) => g.click)).toEqual([
      click(1),
      click(2, { path: 'früh/😀', destination: 'https://example.org/é?x=ü', ruleId: 'r1', variantId: 'b', country: 'FR', os: 'ios', device: 'mobile', qr: true }),
      click(3),
    ]);
    expect(got.map((g) => g.peer)).toEqual([[81, 2, 69, 160], [...v6], null]);
    expect(got.map((g) => [g.forwardedFor, g.userAgent, g.referer, g.acceptLanguage])).toEqual([
      ['', IPHONE, 'https://news.ycombinator.com/item?id=42', 'de-DE,de;q=0.9'],
      ['8.8.8.8, 81.2.69.160', '', '', ''],
      ['', IPHONE, '', 'de-DE,de;q=0.9'],
    ]);
    // a repeated header value is the same interned id (callers cache by it)
    expect(got[2]!.userAgentId).toBe(got[0]!.userAgentId);
    expect(got[2]!.languageId).toBe(got[0]!.languageId);
    expect(w.clicks).toBe(3);
    expect(r.pending).toBe(0);
  });

  it('long link texts (copied natively) keep their bytes: ASCII, UTF-8 with emoji, and both right after each other', () => {
    const buf = createClickRing(64 * 1024);
    const w = new ClickRingWriter(buf);
    const r = new ClickRingReader(buf);
    const texts = [
      { path: 'a'.repeat(31), destination: `https://example.org/${'x'.repeat(200)}?utm_source=news` },
      { path: `früh/😀/${'b'.repeat(40)}`, destination: `https://example.org/${'é'.repeat(50)}?q=ü&e=😀` },
      { path: 'c'.repeat(32), destination: `https://例え.jp/${'ß'.repeat(33)}` },
    ];
    for (const [i, t] of texts.entries()) w.click(click(i, t), V4, '', IPHONE, '', '');
    expect(readAll(r).map((g) => g.click)).toEqual(texts.map((t, i) => click(i, t)));
  });

  it('cuts long header values (user agent, referer, language to 1 KiB; X-Forwarded-For to its right-hand 512 chars)', () => {
    const buf = createClickRing(64 * 1024);
    const w = new ClickRingWriter(buf);
    const r = new ClickRingReader(buf);
    const xff = `${'10.0.0.1, '.repeat(100)}81.2.69.160`;
    w.click(click(1), V4, xff, 'u'.repeat(5000), 'r'.repeat(3000), 'l'.repeat(2000));
    const [g] = readAll(r);
    expect(g!.userAgent).toBe('u'.repeat(1024));
    expect(g!.referer).toBe('r'.repeat(1024));
    expect(g!.acceptLanguage).toBe('l'.repeat(1024));
    expect(g!.forwardedFor).toBe(xff.slice(-512));
    expect(g!.forwardedFor.endsWith(', 81.2.69.160')).toBe(true);
  });

  it('a full ring drops clicks (counted), never blocks; after a read the ring wraps and carries clicks intact', () => {
    const buf = createClickRing(4096);
    const w = new ClickRingWriter(buf);
    const r = new ClickRingReader(buf);
    let written = 0;
    for (let i = 0; i < 100; i++) w.click(click(i), V4, '', IPHONE, '', '');
    written = w.clicks;
    expect(written).toBeGreaterThan(10);
    expect(written).toBeLessThan(100);
    expect(w.dropped).toBe(100 - written);
    expect(readAll(r).map((g) => g.click.at)).toEqual(Array.from({ length: written }, (_, i) => T0 + i));
    // many rounds through the ring: records that do not fit before the end start over at 0
    let next = 1000;
    for (let round = 0; round < 50; round++) {
      const from = next;
      for (let k = 0; k < 7; k++) w.click(click(next++), V4, '', IPHONE, '', '');
      expect(readAll(r).map((g) => g.click)).toEqual(Array.from({ length: 7 }, (_, k) => click(from + k)));
    }
    expect(w.dropped).toBe(100 - written);
  });

  it('past MAX_IDS distinct header values the string table starts over; reader and writer stay in step', () => {
    const buf = createClickRing(1024 * 1024);
    const w = new ClickRingWriter(buf);
    const r = new ClickRingReader(buf);
    const gen0 = r.generation;
    const seen: string[] = [];
    const n = MAX_IDS + 500;
    // every fact read back whole, also for the click during which the table starts over (its
    // domain and workspace ids were taken before its new user agent filled the table)
    const facts = (ua: string, domain: string, ws: string, lang: string) => `${ua} ${domain} ${ws} ${lang}`;
    for (let i = 0; i < n; i++) {
      w.click(click(i), V4, '', `agent-${i}`, '', 'de');
      if (i % 1000 === 999) for (const g of readAll(r)) seen.push(facts(g.userAgent, g.click.domain, g.click.workspaceId, g.acceptLanguage));
    }
    for (const g of readAll(r)) seen.push(facts(g.userAgent, g.click.domain, g.click.workspaceId, g.acceptLanguage));
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => facts(`agent-${i}`, 'go.example.com', 'ws_01JD0000000000000000000001', 'de')));
    expect(r.generation).toBeGreaterThan(gen0);
    expect(w.dropped).toBe(0);
  });

  it('link and workspace ids copied from the stored bytes (no strings) read back as the link\'s ids, also non-ASCII, across workspaces and a new table', () => {
    const buf = createClickRing(1024 * 1024);
    const w = new ClickRingWriter(buf);
    const r = new ClickRingReader(buf);
    // the store's bytes as the node has them: a record decoded without id strings
    const stored = (i: number, ws: string, id = click(i).linkId) => {
      const link = compiled({ id, path: `p${i}`, workspaceId: ws });
      const rec = decodeLink(`${link.domain}/${link.path}`, encodeLink(link, Buffer.from(JSON.stringify(link)), 1), () => null, false)!;
      expect([rec.linkId, rec.workspaceId]).toEqual(['', '']);
      return rec;
    };
    const noIds = (i: number) => click(i, { linkId: '', workspaceId: '' });
    const wsA = 'ws_01JD0000000000000000000001';
    const wsB = 'ws_ünïcødé_😀';
    const order = [wsA, wsA, wsB, wsB, wsA, 'ws_01JD0000000000000000000002', wsA];
    for (const [i, ws] of order.entries()) w.click(noIds(i), V4, '', IPHONE, '', '', stored(i, ws));
    w.click(noIds(50), V4, '', IPHONE, '', '', stored(50, wsA, 'ln_früh_😀'));
    // past MAX_IDS header values the table starts over: the workspace remembered by its bytes too
    const got: string[][] = [];
    const read = () => got.push(...readAll(r).map((g) => [g.click.linkId, g.click.workspaceId]));
    for (let i = 0; i < MAX_IDS + 20; i++) {
      w.click(noIds(100 + i), V4, '', `agent-${i}`, '', '', stored(100 + i, wsB));
      if (i % 1000 === 999) read();
    }
    read();
    expect(got).toEqual([
      ...order.map((ws, i) => [click(i).linkId, ws]),
      ['ln_früh_😀', wsA],
      ...Array.from({ length: MAX_IDS + 20 }, (_, i) => [click(100 + i).linkId, wsB]),
    ]);
    expect(r.generation).toBeGreaterThan(0);
    expect(w.dropped).toBe(0);
  });

  it('a restarted serving thread (a new writer on the same ring) starts a fresh table: no stale ids', () => {
    const buf = createClickRing(64 * 1024);
    const r = new ClickRingReader(buf);
    const w1 = new ClickRingWriter(buf);
    w1.click(click(1), V4, '', 'agent-a', '', '');
    const w2 = new ClickRingWriter(buf);
    w2.click(click(2), V4, '', 'agent-b', '', '');
    w2.click(click(3), V4, '', 'agent-a', '', '');
    expect(readAll(r).map((g) => [g.click.at - T0, g.userAgent])).toEqual([[1, 'agent-a'], [2, 'agent-b'], [3, 'agent-a']]);
  });
});

const silent: Logger = { warn() {}, error() {}, info() {}, debug() {}, child: () => silent } as unknown as Logger;

describe('click collector (main thread)', () => {
  it('reads every ring, encodes the clicks (client IP via trusted proxy, geo, device, hash) and emits batches', () => {
    const salt = Buffer.alloc(32, 3);
    const out: { bytes: Uint8Array; events: number }[] = [];
    const col = new ClickCollector({
      nodeId: 'node-a', geo: openGeo(loadGeoDatabase(defaultGeoipDb())), device: createDeviceDetector(100),
      trustedProxies: [parseCidr('127.0.0.1/32')!], salts: () => salt, maxEvents: 3, flushMs: 10_000,
      emit: (bytes, events) => out.push({ bytes: Uint8Array.prototype.slice.call(bytes), events }), log: silent,
    });
    const rings = [createClickRing(64 * 1024), createClickRing(64 * 1024)];
    rings.forEach((b, i) => col.ring(i, b));
    const w0 = new ClickRingWriter(rings[0]!);
    const w1 = new ClickRingWriter(rings[1]!);
    w0.click(click(0), new Uint8Array([127, 0, 0, 1]), '81.2.69.160', IPHONE, 'https://news.ycombinator.com/x', 'de-DE,de;q=0.9');
    w0.click(click(1), V4, '', IPHONE, '', '');
    w1.click(click(2, { ruleId: 'r1', variantId: 'b', qr: true }), V4, '', '', '', '');
    w1.click(click(3), new Uint8Array([127, 0, 0, 1]), '', IPHONE, '', '');
    col.stop();
    expect(out.map((o) => o.events)).toEqual([3, 1]);
    expect(col.received).toBe(4);
    const events = out.flatMap((o) => decodeClickBatch(o.bytes).batch.events);
    expect(events.map((e) => [e.occurredAt - T0, e.linkId, e.path, e.country, e.deviceClass, e.referrerHost, e.language, e.ruleId, e.variantId, e.qr])).toEqual([
      [0, click(0).linkId, 'p0', 'GB', 'mobile', 'news.ycombinator.com', 'de-de', null, null, false],
      [1, click(1).linkId, 'p1', 'GB', 'mobile', null, null, null, null, false],
      [2, click(2).linkId, 'p2', 'GB', 'bot', null, null, 'r1', 'b', true],
      [3, click(3).linkId, 'p3', null, 'mobile', null, null, null, null, false],
    ]);
    // the hash of the client behind the trusted proxy, not of the proxy
    const hashes = events.map((e) => e.visitorHash);
    expect(hashes[0]).toBe(visitorHash(salt, parseIp('81.2.69.160'), IPHONE).toString('hex'));
    expect(hashes[1]).toBe(hashes[0]);
    expect(hashes[3]).toBe(visitorHash(salt, parseIp('127.0.0.1'), IPHONE).toString('hex'));
  });
});
