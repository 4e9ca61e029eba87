/**
 * The node's click path as it runs: a serving thread writes records into its click ring, the
 * collector (main thread) encodes them into batches, the spool keeps them and the shipper publishes
 * them. What a batch may carry (no raw IP, user agent, referrer, Accept-Language or X-Forwarded-For
 * in its bytes), whose address it hashes (X-Forwarded-For only behind a trusted proxy), with which
 * salt (the day's shared one, else a node-local one), the event it builds, and when batches leave.
 * Every batch is decoded with shared/click-codec.ts; the privacy checks read the bytes themselves.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeClickBatch, type ClickEvent, type Logger } from '../../shared/index.js';
import { defaultGeoipDb } from '../config.js';
import { createDeviceDetector } from '../device.js';
import { loadGeoDatabase, openGeo } from '../geo.js';
import { parseCidr, parseIp, type Cidr } from '../ip.js';
import type { ClickFacts } from '../resolve.js';
import { ClickCollector, type ClickCollectorOptions } from './click-collector.js';
import { ClickRingWriter, createClickRing } from './click-ring.js';
import { ClickSpool } from './click-spool.js';
import { visitorHash } from './visitor-hash.js';

const geo = openGeo(loadGeoDatabase(defaultGeoipDb()));
const device = createDeviceDetector(1000);
const DAY = 86_400_000;
/** 100 ms before midnight UTC: clicks at T0 + ≥ 100 are on the next day. */
const T0 = Date.UTC(2026, 10, 26, 23, 59, 59, 900);
const DAY1 = Math.floor(T0 / DAY);
const SALTS = new Map([[DAY1, Buffer.alloc(32, 1)], [DAY1 + 1, Buffer.alloc(32, 2)]]);

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const REFERER = 'https://news.ycombinator.com/item?id=42';
const LANGUAGE = 'de-DE,de;q=0.9,en;q=0.8';

function click(i: number, over: Partial<ClickFacts> = {}): ClickFacts {
  return {
    linkId: 'ln_01JD0000000000000000000001', workspaceId: 'ws_01JD0000000000000000000001', domain: 'go.example.com',
    path: 'spring', destination: 'https://example.org/landing?utm_source=news&utm_medium=email', ruleId: null, variantId: null,
    country: null, os: null, device: null, qr: false, at: T0 + i, ...over,
  };
}

/** The raw bytes uWS gives for a peer address ('' = none). */
function peerBytes(text: string): Uint8Array | null {
  if (text === '') return null;
  const ip = parseIp(text)!;
  const out = new Uint8Array(ip.v6 ? 16 : 4);
  const view = new DataView(out.buffer);
  if (ip.v6) ip.w.forEach((word, i) => view.setUint32(4 * i, word));
  else view.setUint32(0, ip.w[0]);
  return out;
}

/** The request facts of one visit, as the serving thread hands them to its ring (`peer` as text). */
interface Visit {
  peer?: string;
  forwardedFor?: string;
  userAgent?: string;
  referer?: string;
  acceptLanguage?: string;
}

interface Emitted {
  bytes: Uint8Array;
  events: number;
  id: string;
}

const quiet: Logger = { warn() {}, error() {}, info() {}, debug() {}, child: () => quiet } as unknown as Logger;

/** A collector reading `rings` rings (one writer each, as one serving thread each). */
function rig(over: Partial<ClickCollectorOptions> = {}, { rings = 1, ringBytes = 1 << 20 } = {}) {
  const out: Emitted[] = [];
  const col = new ClickCollector({
    nodeId: 'node-a', geo, device, trustedProxies: [], salts: (d) => SALTS.get(d), maxEvents: 1000, flushMs: 10_000, log: quiet,
    // the encoder's output is a view of a reused buffer: copied, as node.ts does before spooling it
    emit: (bytes, events, id) => out.push({ bytes: Uint8Array.prototype.slice.call(bytes), events, id }),
    ...over,
  });
  const writers = Array.from({ length: rings }, (_, i) => {
    const buffer = createClickRing(ringBytes);
    col.ring(i, buffer);
    return new ClickRingWriter(buffer);
  });
  const write = (c: ClickFacts, v: Visit = {}, ring = 0): void =>
    writers[ring]!.click(c, peerBytes(v.peer ?? '81.2.69.160'), v.forwardedFor ?? '', v.userAgent ?? IPHONE, v.referer ?? REFERER, v.acceptLanguage ?? LANGUAGE);
  const events = (): ClickEvent[] =>
    out.flatMap((o) => {
      const { batch, rejected } = decodeClickBatch(o.bytes);
      expect(rejected).toEqual([]);
      return batch.events;
    });
  return { col, out, writers, write, events };
}

const hex = (salt: Uint8Array | undefined, ip: string | null, ua: string) => visitorHash(salt!, ip === null ? null : parseIp(ip), ua).toString('hex');
const cidrs = (...s: string[]): Cidr[] => s.map((c) => parseCidr(c)!);
const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('click collector: what a shipped batch carries', () => {
  it('no raw IP, user agent, referrer, Accept-Language or X-Forwarded-For in the batch bytes, as spooled and as the shipper publishes them', async () => {
    const { col, out, write, events } = rig({ trustedProxies: cidrs('10.0.0.0/8') });
    const visits: Visit[] = [
      { peer: '81.2.69.160' },
      { peer: '2a00:1450:4001:81c::200e', userAgent: CHROME },
      { peer: '192.0.2.33', referer: 'https://mail.example.net/inbox/4711?token=s3cr3t#msg', acceptLanguage: 'pt-BR;q=0.8, en-GB' },
      { peer: '10.1.2.3', forwardedFor: '203.0.113.77, 81.2.69.142' }, // behind a trusted proxy
      { peer: '198.51.100.4', forwardedFor: '81.2.69.99' }, // an untrusted peer's header
      { peer: '', userAgent: GOOGLEBOT },
    ];
    visits.forEach((v, i) => write(click(i), v));
    col.stop();
    expect(events()).toHaveLength(visits.length);

    // what the spool writes to disk, and what the shipper reads back from it and publishes
    const dir = mkdtempSync(join(tmpdir(), 'lp-collector-'));
    dirs.push(dir);
    const spool = ClickSpool.open({ dir, maxBytes: 1 << 20, log: quiet, fsync: false });
    for (const o of out) await spool.append(o.id, o.bytes, o.events);
    const published = await Promise.all(spool.take(10).map((e) => spool.read(e)));
    const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)));
    expect(published.map((b) => Buffer.from(b))).toEqual(out.map((o) => Buffer.from(o.bytes)));
    expect(files.map((b) => b.toString('hex')).sort()).toEqual(out.map((o) => Buffer.from(o.bytes).toString('hex')).sort());

    const texts = [
      // addresses: peers, forwarded ones, their networks (what the hash truncates them to stays inside the HMAC)
      '81.2.69.160', '81.2.69.142', '81.2.69.99', '81.2.69', '2a00:1450:4001:81c::200e', '2a00:1450', '192.0.2.33', '192.0.2',
      '10.1.2.3', '203.0.113.77', '198.51.100.4',
      // X-Forwarded-For as sent
      '203.0.113.77, 81.2.69.142',
      // user agents, whole and in parts
      IPHONE, CHROME, GOOGLEBOT, 'Mozilla/5.0', 'AppleWebKit', 'Version/17.0', 'Windows NT', 'Chrome/124', 'Googlebot/2.1', 'google.com/bot',
      // referrers beyond their host, Accept-Language as sent
      REFERER, 'https://news', 'item?id=42', 'mail.example.net/inbox', 'token=s3cr3t', LANGUAGE, 'q=0.9', 'pt-BR;q=0.8', 'en-GB',
    ];
    const binary = ['81.2.69.160', '2a00:1450:4001:81c::200e', '192.0.2.33', '10.1.2.3', '198.51.100.4'].map((a) => Buffer.from(peerBytes(a)!));
    for (const bytes of [...out.map((o) => Buffer.from(o.bytes)), ...published.map((b) => Buffer.from(b)), ...files]) {
      for (const t of texts) expect(bytes.includes(t), `"${t}" in a batch`).toBe(false);
      for (const b of binary) expect(bytes.includes(b), `peer bytes ${b.toString('hex')} in a batch`).toBe(false);
      // not vacuous: the batch is plain msgpack, and what it may carry is there
      expect(bytes.includes('news.ycombinator.com')).toBe(true);
      expect(bytes.includes('mail.example.net')).toBe(true);
      expect(bytes.includes('ln_01JD0000000000000000000001')).toBe(true);
    }
    const decoded = JSON.stringify(events());
    for (const t of texts) expect(decoded.includes(t), `"${t}" in a decoded event`).toBe(false);
    expect(events().map((e) => [e.referrerHost, e.language])).toEqual([
      ['news.ycombinator.com', 'de-de'], ['news.ycombinator.com', 'de-de'], ['mail.example.net', 'en-gb'],
      ['news.ycombinator.com', 'de-de'], ['news.ycombinator.com', 'de-de'], ['news.ycombinator.com', 'de-de'],
    ]);
  });

  it('builds the event from the decision and the visit: geo, device, referrer host, language, UTM, node, hash', () => {
    const { col, write, events } = rig();
    write(click(0, { ruleId: 'r1', variantId: 'b', qr: true }));
    write(click(200), { peer: '8.8.8.8', userAgent: GOOGLEBOT, referer: '', acceptLanguage: '' });
    write(click(1, { country: 'FR' }), { peer: '', userAgent: '' });
    col.stop();
    const [a, bot, unknown] = events();
    expect(a).toMatchObject({
      occurredAt: T0, linkId: 'ln_01JD0000000000000000000001', workspaceId: 'ws_01JD0000000000000000000001', domain: 'go.example.com',
      path: 'spring', ruleId: 'r1', variantId: 'b', country: 'GB', deviceClass: 'mobile', os: 'ios', browser: 'Mobile Safari',
      referrerHost: 'news.ycombinator.com', language: 'de-de', bot: false, qr: true, utm: { source: 'news', medium: 'email' }, nodeId: 'node-a',
      visitorHash: hex(SALTS.get(DAY1), '81.2.69.160', IPHONE),
    });
    // 200 ms later it is the next UTC day: that day's salt
    expect(bot).toMatchObject({ country: 'US', deviceClass: 'bot', bot: true, referrerHost: null, language: null });
    expect(bot!.visitorHash).toBe(hex(SALTS.get(DAY1 + 1), '8.8.8.8', GOOGLEBOT));
    // no peer: the rule's country stands; an empty agent counts as a bot; the hash is of "no address"
    expect(unknown).toMatchObject({ country: 'FR', bot: true, deviceClass: 'bot' });
    expect(unknown!.visitorHash).toBe(hex(SALTS.get(DAY1), null, ''));
  });

  it("UTM snapshots: per destination query (shared by a campaign's links), none without utm_ parameters", () => {
    const { col, write, events } = rig();
    const dests = [
      'https://example.org/a?utm_source=news&utm_medium=email',
      'https://example.org/b?utm_source=news&utm_medium=email',
      'https://example.org/c?utm_source=ads&utm_campaign=spring%20sale#top',
      'https://example.org/d?ref=utm_source',
      'https://example.org/utm_source=x',
      'https://example.org/a?utm_source=news&utm_medium=email',
    ];
    dests.forEach((destination, i) => write(click(i, { destination })));
    col.stop();
    expect(events().map((e) => [e.destination, e.utm])).toEqual([
      [dests[0], { source: 'news', medium: 'email' }],
      [dests[1], { source: 'news', medium: 'email' }],
      [dests[2], { source: 'ads', campaign: 'spring sale' }],
      [dests[3], null],
      [dests[4], null],
      [dests[5], { source: 'news', medium: 'email' }],
    ]);
  });
});

describe('click collector: whose address is hashed (TRUSTED_PROXIES)', () => {
  it('takes the client from X-Forwarded-For only when the peer is a trusted proxy, whatever order the same headers come in', () => {
    const { col, write, events } = rig({ trustedProxies: cidrs('10.0.0.0/8', '2001:db8::/32') });
    const visits: [Visit, string, string | null][] = [
      // [visit, the address hashed, its country]
      [{ peer: '10.1.2.3', forwardedFor: '8.8.8.8, 81.2.69.160' }, '81.2.69.160', 'GB'],
      [{ peer: '192.0.2.9', forwardedFor: '81.2.69.160' }, '192.0.2.9', null], // TEST-NET: no country; its XFF is not believed
      [{ peer: '10.1.2.3', forwardedFor: '81.2.69.160' }, '81.2.69.160', 'GB'], // the same header from a trusted peer is
      [{ peer: '192.0.2.9', forwardedFor: '8.8.8.8, 81.2.69.160' }, '192.0.2.9', null], // a header resolved before: still not from this peer
      [{ peer: '10.0.0.1', forwardedFor: '6.6.6.6, 81.2.69.160, 10.9.9.9' }, '81.2.69.160', 'GB'], // right-most address not a proxy of ours
      [{ peer: '10.1.2.3', forwardedFor: 'unknown' }, '10.1.2.3', null], // garbage: the proxy itself
      [{ peer: '2001:db8::7', forwardedFor: '[2a00:1450:4001:81c::200e]:443' }, '2a00:1450:4001:81c::200e', 'DE'],
      [{ peer: '2a00:1450:4001:81c::200e', forwardedFor: '81.2.69.160' }, '2a00:1450:4001:81c::200e', 'DE'],
    ];
    visits.forEach(([v], i) => write(click(-1000 + i), v));
    col.stop();
    const got = events();
    expect(got.map((e) => e.visitorHash)).toEqual(visits.map(([, ip]) => hex(SALTS.get(DAY1), ip, IPHONE)));
    expect(got.map((e) => e.country)).toEqual(visits.map(([, , country]) => country));
  });

  it('without TRUSTED_PROXIES no X-Forwarded-For is believed', () => {
    const { col, write, events } = rig({ trustedProxies: [] });
    write(click(0), { peer: '127.0.0.1', forwardedFor: '81.2.69.160' });
    write(click(1), { peer: '192.0.2.9', forwardedFor: '81.2.69.160' });
    col.stop();
    const got = events();
    expect(got.map((e) => e.visitorHash)).toEqual([hex(SALTS.get(DAY1), '127.0.0.1', IPHONE), hex(SALTS.get(DAY1), '192.0.2.9', IPHONE)]);
    expect(got.map((e) => e.country)).toEqual([null, null]);
  });
});

describe('click collector: the visitor hash and its salts', () => {
  it('the same visitor hashes alike within a UTC day and differently across midnight (each day its salt)', () => {
    const { col, write, events } = rig();
    write(click(-60_000)); // 23:58:59.900, day 1
    write(click(0)); // 23:59:59.900, day 1
    write(click(100)); // 00:00:00.000, day 2
    write(click(3_600_000)); // an hour later, day 2
    write(click(50), { peer: '81.2.69.161' }); // day 1 again (a late record), same /24
    write(click(60), { userAgent: CHROME }); // day 1, another agent
    col.stop();
    const h = events().map((e) => e.visitorHash);
    expect(h.slice(0, 4)).toEqual([
      hex(SALTS.get(DAY1), '81.2.69.160', IPHONE), hex(SALTS.get(DAY1), '81.2.69.160', IPHONE),
      hex(SALTS.get(DAY1 + 1), '81.2.69.160', IPHONE), hex(SALTS.get(DAY1 + 1), '81.2.69.160', IPHONE),
    ]);
    expect(h[0]).not.toBe(h[2]);
    expect(h[4]).toBe(h[0]);
    expect(h[5]).not.toBe(h[0]);
  });

  it('without a shared salt for the day: a node-local one (logged once per day); same visitor same hash, another node another hash', () => {
    const warned: unknown[] = [];
    const log = { ...quiet, warn: (o: unknown) => warned.push(o) } as unknown as Logger;
    const a = rig({ salts: () => undefined, log });
    const b = rig({ salts: () => undefined, log: quiet });
    for (const n of [a, b]) {
      n.write(click(0));
      n.write(click(1));
      n.write(click(2), { peer: '81.2.69.200' }); // same network
      n.write(click(3), { peer: '8.8.8.8' });
      n.col.stop();
    }
    const [ha, hb] = [a.events().map((e) => e.visitorHash), b.events().map((e) => e.visitorHash)];
    expect(warned).toEqual([{ day: '2026-11-26' }]);
    expect(ha[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(ha[1]).toBe(ha[0]);
    expect(ha[2]).toBe(ha[0]);
    expect(ha[3]).not.toBe(ha[0]);
    expect(ha[0]).not.toBe(hex(SALTS.get(DAY1), '81.2.69.160', IPHONE)); // not some fixed salt
    // another node's local salt is its own: its hashes cannot be joined with these
    expect(hb[0]).not.toBe(ha[0]);
    expect(hb[1]).toBe(hb[0]);
    // the next day: a new local salt, a new hash, one more warning
    a.out.length = 0;
    a.write(click(200));
    a.write(click(300));
    a.col.stop();
    const next = a.events().map((e) => e.visitorHash);
    expect(next[1]).toBe(next[0]);
    expect(next[0]).not.toBe(ha[0]);
    expect(warned).toEqual([{ day: '2026-11-26' }, { day: '2026-11-27' }]);
  });

  it('a shared salt adopted during the day is used for visitors already seen that day (their cached hashes are dropped)', () => {
    const salts = new Map<number, Uint8Array>();
    const { col, write, events } = rig({ salts: (d) => salts.get(d) });
    write(click(-5000));
    col.flush();
    salts.set(DAY1, SALTS.get(DAY1)!); // NATS answered: the shared salt of the day
    write(click(-4000));
    write(click(-3000), { userAgent: CHROME });
    col.stop();
    const h = events().map((e) => e.visitorHash);
    expect(h[2]).toBe(hex(SALTS.get(DAY1), '81.2.69.160', CHROME)); // a visitor not seen before: the shared salt
    expect(h[1]).toBe(hex(SALTS.get(DAY1), '81.2.69.160', IPHONE)); // one seen before: the shared salt too
  });
});

describe('click collector: when batches leave', () => {
  it('the serving thread only writes records; the collector reads a chunk per event-loop turn, ships full batches of 1 000 at once and the rest on stop', async () => {
    const { col, out, write, events } = rig({ drainMs: 5 }, { ringBytes: 4 << 20 });
    for (let i = 0; i < 2500; i++) write(click(i));
    expect(out).toEqual([]); // writing a click encodes nothing
    expect(col.received).toBe(0);
    col.start();
    const seen = new Set<number>();
    let turns = 0;
    while (out.length < 2) {
      await turn();
      seen.add(col.received);
      if (++turns > 100_000) throw new Error('the collector never shipped');
    }
    // read over several turns (a chunk each), not all at once: requests and I/O interleave
    expect([...seen].filter((n) => n > 0 && n < 2500).length).toBeGreaterThanOrEqual(3);
    expect(out.map((o) => o.events)).toEqual([1000, 1000]);
    for (let i = 2500; i < 2510; i++) write(click(i));
    col.stop(); // SIGTERM: the rest goes out now, not after flushMs
    expect(out.map((o) => o.events)).toEqual([1000, 1000, 510]);
    expect(events().map((e) => e.occurredAt)).toEqual(Array.from({ length: 2510 }, (_, i) => T0 + i));
    // each batch its own id (the Nats-Msg-Id), each event its own
    expect(new Set(out.map((o) => o.id)).size).toBe(3);
    expect(new Set(events().map((e) => e.id)).size).toBe(2510);
    expect(out.map((o) => decodeClickBatch(o.bytes).batch.batchId)).toEqual(out.map((o) => o.id));
    expect([col.received, col.captured, col.emitted]).toEqual([2510, 2510, 2510]);
  });

  it('a flood stays bounded: the collector holds one batch at most, a full ring drops clicks (counted), none is lost uncounted', async () => {
    const ringBytes = 256 * 1024;
    const { col, writers, write } = rig({ drainMs: 1 }, { ringBytes });
    col.start();
    let held = 0;
    let pending = 0;
    let written = 0;
    for (let t = 0; t < 100; t++) {
      for (let i = 0; i < 500; i++, written++) write(click(written));
      await turn();
      held = Math.max(held, col.held);
      pending = Math.max(pending, col.pendingBytes);
    }
    col.stop();
    expect(held).toBeLessThanOrEqual(1000);
    expect(pending).toBeLessThanOrEqual(ringBytes);
    expect(col.dropped).toBe(writers[0]!.dropped);
    expect(col.received + col.dropped).toBe(written);
    expect(col.emitted).toBe(col.received);
  });

  it('flushes a partial batch flushMs after its first click', async () => {
    const { col, out, write } = rig({ drainMs: 5, flushMs: 30 });
    col.start();
    write(click(1));
    write(click(2));
    await sleep(15);
    expect(out).toEqual([]);
    await sleep(100);
    expect(out.map((o) => o.events)).toEqual([2]);
    col.stop();
  });

  it('idle rings are read less and less often; a click after a long quiet still leaves flushMs after it was made, and reads go back to drainMs', async () => {
    let saltCalls = 0;
    const { col, out, write } = rig({ drainMs: 5, flushMs: 400, salts: (d) => (saltCalls++, SALTS.get(d)) });
    write(click(0));
    col.flush(); // a click hashed: the day's salt is known from now on
    expect(out.map((o) => o.events)).toEqual([1]);
    col.start();
    saltCalls = 0;
    const polls0 = col.polls;
    await sleep(600);
    // 5, 10, 20, then 50 ms (IDLE_MAX_MS) between reads: about 14 in 600 ms, not 120
    expect(col.polls - polls0).toBeLessThanOrEqual(20);
    expect(col.polls - polls0).toBeGreaterThanOrEqual(5);
    // an empty read looks at the rings' counters only (no salt lookup, no per-ring work)
    expect(saltCalls).toBe(0);
    // a click written just after a read: the next read is a whole idle pause (50 ms) away
    const p = col.polls;
    while (col.polls === p) await turn();
    const written = Date.now();
    write(click(1, { at: written }));
    while (col.received < 2) await turn();
    // traffic: the next reads come every drainMs again
    const read = col.polls;
    await sleep(40);
    expect(col.polls - read).toBeGreaterThanOrEqual(2);
    while (out.length < 2) await turn();
    const left = Date.now() - written;
    // flushMs after the click was made (the time it waited in the ring counts), not flushMs after it was read
    expect(left).toBeGreaterThanOrEqual(400 - 2);
    expect(left).toBeLessThan(400 + 40);
    col.stop();
  });

  it('a partial batch leaves flushMs after its oldest click, also while clicks keep arriving', async () => {
    const { col, out, write, events } = rig({ drainMs: 5, flushMs: 60 });
    col.start();
    const t0 = Date.now();
    const feeder = setInterval(() => write(click(Date.now() - t0)), 5);
    await sleep(300);
    clearInterval(feeder);
    col.stop();
    // a batch about every 60 ms, never one that grew for the whole 300 ms
    expect(out.length).toBeGreaterThanOrEqual(3);
    for (const o of out.slice(0, -1)) {
      const at = decodeClickBatch(o.bytes).batch.events.map((e) => e.occurredAt);
      // 60 ms, plus the ring's read interval, plus timer slack on a busy machine
      expect(at.at(-1)! - at[0]!).toBeLessThan(60 + 5 + 40);
    }
    expect(events().length).toBe(col.received);
  });
});
