import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ClickBatchWriter, ClickBatchWriterV2, ClickCodecError, DICT, DICT_FIELDS, decodeClickBatch, decodeClickColumns, encodeClickBatch } from './click-codec.js';
import { clickIdTime, clickIdTimeOf, isClickIdBytes, newClickId, writeClickId } from './click-id.js';
import type { ClickBatch, ClickEvent } from './events.js';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0, 123);

function click(i: number, over: Partial<ClickEvent> = {}): ClickEvent {
  const occurredAt = over.occurredAt ?? T0 + i;
  return {
    v: 1,
    id: newClickId(occurredAt),
    occurredAt,
    linkId: `ln_01JD000000000000000000000${i % 3}`,
    workspaceId: 'ws_01JD0000000000000000000000',
    domain: 'go.example.com',
    path: i % 2 ? 'spring' : 'summer/sale',
    destination: 'https://example.org/landing?utm_source=news',
    ruleId: i % 4 === 0 ? 'r1' : null,
    variantId: i % 4 === 0 ? 'b' : null,
    country: i % 5 === 0 ? null : 'DE',
    deviceClass: 'mobile',
    os: 'ios',
    browser: 'safari',
    referrerHost: i % 3 === 0 ? 'news.ycombinator.com' : null,
    language: 'de',
    bot: i % 7 === 0,
    qr: i % 6 === 0,
    utm: i % 2 ? { source: 'news', medium: 'email' } : null,
    nodeId: 'node-a',
    visitorHash: (i % 10).toString(16).repeat(32),
    ...over,
  };
}

const batchOf = (events: ClickEvent[]): ClickBatch => ({ v: 1, nodeId: 'node-a', batchId: 'b-1', events });

describe('click ids', () => {
  it('carry their millisecond timestamp and the v7 version/variant bits', () => {
    for (const ms of [0, 1, T0, 2 ** 47 - 1, Date.UTC(2100, 0, 1)]) {
      const id = newClickId(ms);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(clickIdTimeOf(id)).toBe(ms);
    }
    const b = Buffer.alloc(16);
    writeClickId(T0, b);
    expect(isClickIdBytes(b)).toBe(true);
    expect(clickIdTime(b)).toBe(T0);
  });

  it('are unique and sort by time', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => newClickId(T0 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    const later = ids.filter((_, i) => i % 10 === 0);
    expect([...later].sort()).toEqual(later);
  });
});

describe('click batch codec', () => {
  it('round-trips every field', () => {
    const events = Array.from({ length: 50 }, (_, i) => click(i));
    const { batch, rejected } = decodeClickBatch(encodeClickBatch(batchOf(events)));
    expect(rejected).toEqual([]);
    expect(batch).toEqual(batchOf(events));
  });

  it('a link whose path, domain or workspace changed within a batch keeps each event\'s own values', () => {
    const same = { linkId: 'ln_01JD0000000000000000000009' };
    const events = [
      click(0, same),
      click(1, { ...same, path: 'renamed' }),
      click(2, { ...same, path: 'renamed', domain: 'moved.example.com' }),
      click(3, { ...same, path: 'renamed', domain: 'moved.example.com', workspaceId: 'ws_01JD0000000000000000000001' }),
      click(4, same),
    ];
    const { batch } = decodeClickBatch(encodeClickBatch(batchOf(events)));
    expect(batch.events.map((e) => [e.linkId, e.workspaceId, e.domain, e.path])).toEqual(events.map((e) => [e.linkId, e.workspaceId, e.domain, e.path]));
  });

  it('is compact: repeated strings are stored once', () => {
    const events = Array.from({ length: 1000 }, (_, i) => click(i));
    const bytes = encodeClickBatch(batchOf(events));
    expect(bytes.length).toBeLessThan(80 * 1000);
    expect(bytes.length).toBeLessThan(Buffer.byteLength(JSON.stringify(events)) / 5);
  });

  it('switches to 32-bit string indexes past 65 535 strings', () => {
    const events = Array.from({ length: 70_000 }, (_, i) => click(i, { path: `p${i}` }));
    const { batch, rejected } = decodeClickBatch(encodeClickBatch(batchOf(events)));
    expect(rejected).toEqual([]);
    expect(batch.events.length).toBe(70_000);
    expect(batch.events[69_999]!.path).toBe('p69999');
  });

  it('the writer generates ids for occurredAt when none is given', () => {
    const w = new ClickBatchWriter(2);
    for (let i = 0; i < 5; i++) {
      const { id: _id, v: _v, nodeId: _n, visitorHash: _h, utm, ...rest } = click(i);
      w.addRaw({ ...rest, utmJson: utm ? JSON.stringify(utm) : null }, null, Buffer.alloc(32, i));
    }
    const { batch } = decodeClickBatch(w.finish('node-a', 'b-2'));
    expect(batch.events.map((e) => e.occurredAt)).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i));
    expect(batch.events.map((e) => clickIdTimeOf(e.id))).toEqual([0, 1, 2, 3, 4].map((i) => T0 + i));
    expect(batch.events[3]!.visitorHash).toBe('03'.repeat(16));
  });

  const bad: [string, Partial<ClickEvent>, string][] = [
    ['missing link id', { linkId: null as unknown as string }, 'linkId is missing'],
    ['empty path', { path: '' }, 'path is empty'],
    ['NUL in the path', { path: 'a\u0000b' }, 'path contains control characters'],
    ['newline in the referrer', { referrerHost: 'a\nb' }, 'referrerHost contains control characters'],
    ['oversized destination', { destination: `https://x.example/${'a'.repeat(9000)}` }, 'destination longer than 8192'],
    ['lower-case country', { country: 'de' }, 'country is not ISO 3166-1 alpha-2'],
    ['non-string utm value', { utm: { source: 5 } as unknown as Record<string, string> }, 'utm values must be strings'],
  ];
  for (const [name, over, reason] of bad) {
    it(`rejects one event with ${name}, keeps the others`, () => {
      const events = [click(1), click(2, over), click(3)];
      const { batch, rejected } = decodeClickBatch(encodeClickBatch(batchOf(events)));
      expect(batch.events.map((e) => e.id)).toEqual([events[0]!.id, events[2]!.id]);
      expect(rejected).toEqual([{ index: 1, id: events[1]!.id, reason }]);
    });
  }

  it('rejects an event whose id is not a UUIDv7', () => {
    const packr = new Packr({ useRecords: false });
    const msg = packr.unpack(encodeClickBatch(batchOf([click(1), click(2)]))) as { id: Buffer };
    msg.id[6] = 0x40; // version 4
    const { batch, rejected } = decodeClickBatch(packr.pack(msg));
    expect(batch.events.length).toBe(1);
    expect(rejected).toEqual([{ index: 0, id: expect.stringMatching(/^[0-9a-f-]{36}$/), reason: 'id is not a UUIDv7' }]);
  });

  it('refuses to encode an id that is not a UUIDv7 or disagrees with occurredAt', () => {
    expect(() => encodeClickBatch(batchOf([click(1, { id: 'not-an-id' })]))).toThrow(ClickCodecError);
    expect(() => encodeClickBatch(batchOf([click(1, { id: newClickId(T0), occurredAt: T0 + 99_999 })]))).toThrow(/occurredAt/);
  });

  const garbage: [string, () => Uint8Array][] = [
    ['empty bytes', () => new Uint8Array()],
    ['JSON text', () => Buffer.from('{"v":1}')],
    ['random bytes', () => Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256))],
    ['a msgpack string', () => new Packr().pack('hello')],
    ['a future version', () => new Packr().pack({ v: 2 })],
    ['a bad node id', () => new Packr().pack({ v: 1, node: 'a b', batch: 'x', n: 0, w: 2, s: [''] })],
    ['truncated columns', () => {
      const p = new Packr({ useRecords: false });
      const m = p.unpack(encodeClickBatch(batchOf([click(1), click(2)]))) as { c: Buffer };
      m.c = m.c.subarray(0, 10);
      return p.pack(m);
    }],
    ['an index past the string table', () => {
      const p = new Packr({ useRecords: false });
      const m = p.unpack(encodeClickBatch(batchOf([click(1)]))) as { c: Buffer; s: string[] };
      m.c.writeUInt16LE(500, 0);
      return p.pack(m);
    }],
  ];
  for (const [name, make] of garbage) {
    it(`${name}: a ClickCodecError or a rejected event, never anything else`, () => {
      try {
        const r = decodeClickBatch(make());
        expect(r.rejected.length + r.batch.events.length).toBeGreaterThan(0);
        expect(r.rejected.length).toBeGreaterThan(0);
      } catch (err) {
        expect(err).toBeInstanceOf(ClickCodecError);
      }
    });
  }
});

/** What a node writes (version 2): dictionary values interned, link texts as bytes, no UTM column. */
function encodeV2(events: ClickEvent[], batchId = 'b-2', w = new ClickBatchWriterV2(2)): Uint8Array {
  for (const e of events) {
    const row = w.begin(e.occurredAt, (e.bot ? 1 : 0) | (e.qr ? 2 : 0));
    Buffer.from(e.visitorHash.slice(0, 32), 'hex').copy(w.hashes, 16 * row);
    for (const f of DICT_FIELDS) w.dict(DICT[f], w.intern(e[f]));
    const link = Buffer.from(e.linkId);
    w.textBytes(0, link, 0, link.length);
    w.textString(1, e.path);
    w.textString(2, e.destination);
    w.end();
  }
  return w.finish('node-a', batchId);
}

describe('click batch codec, version 2 (nodes since issue 13)', () => {
  const strip = (e: ClickEvent) => ({ ...e, id: '' });

  it('decodes to the same events as version 1, the UTM snapshot taken from the destination', () => {
    const events = Array.from({ length: 50 }, (_, i) => click(i, { destination: i % 3 ? 'https://example.org/landing?x=1&utm_source=news&utm_medium=e%20mail' : 'https://example.org/plain', path: `p/${i % 4}/ünï` }));
    const { batch, rejected } = decodeClickBatch(encodeV2(events));
    expect(rejected).toEqual([]);
    expect(batch.batchId).toBe('b-2');
    const want = events.map((e) => ({ ...e, utm: e.destination.includes('utm_') ? { source: 'news', medium: 'e mail' } : null }));
    expect(batch.events.map(strip)).toEqual(want.map(strip));
    // every id is a fresh UUIDv7 carrying the click's time
    expect(new Set(batch.events.map((e) => e.id)).size).toBe(50);
    expect(batch.events.map((e) => clickIdTimeOf(e.id))).toEqual(events.map((e) => e.occurredAt));
    // the same batch in version 1 (an old node during a rolling deploy) gives the same rows
    const v1 = decodeClickBatch(encodeClickBatch(batchOf(want)));
    expect(v1.batch.events.map(strip)).toEqual(batch.events.map(strip));
  });

  it('gives ingest the same columns as version 1 (texts and UTM in the one string table)', () => {
    const events = [click(1), click(2), click(3)].map((e) => ({ ...e, utm: { source: 'news' } }));
    const a = decodeClickColumns(encodeV2(events));
    const b = decodeClickColumns(encodeClickBatch(batchOf(events)));
    const text = (d: typeof a) => d.cols.map((col) => [...col].map((i) => (i === 0 ? null : d.strings[i])));
    expect(text(a)).toEqual(text(b));
    expect([...a.hashes]).toEqual([...b.hashes]);
    expect([...a.flags]).toEqual([...b.flags]);
  });

  it('a writer reset after a batch writes the next one as a fresh writer would: nothing of the last batch in it', () => {
    const w = new ClickBatchWriterV2(2);
    const first = Array.from({ length: 9 }, (_, i) => click(i, { domain: `d${i}.example`, destination: `https://example.org/${'x'.repeat(300)}/${i}` }));
    const a = Buffer.from(encodeV2(first, 'b-1', w));
    w.reset();
    expect(w.count).toBe(0);
    const second = [click(20, { path: 'ünï' }), click(21)];
    const b = decodeClickBatch(encodeV2(second, 'b-2', w));
    expect(b.rejected).toEqual([]);
    expect(b.batch.events.map(strip)).toEqual(decodeClickBatch(encodeV2(second)).batch.events.map(strip));
    expect(decodeClickColumns(encodeV2(second, 'b-2', (w.reset(), w))).strings).toEqual(decodeClickColumns(encodeV2(second)).strings);
    // what finish returned before the reset, copied as emit's callers copy it: still the first batch
    expect(decodeClickBatch(a).batch.events.map(strip)).toEqual(decodeClickBatch(encodeV2(first)).batch.events.map(strip));
  });

  it('rejects a bad event, keeps the rest; refuses texts that do not add up', () => {
    const events = [click(1), click(2, { path: 'bad\u0001path' }), click(3, { linkId: '' })];
    const { batch, rejected } = decodeClickBatch(encodeV2(events));
    expect(batch.events.map((e) => e.linkId)).toEqual([click(1).linkId]);
    expect(rejected.map((r) => [r.index, r.reason])).toEqual([[1, 'path contains control characters'], [2, 'linkId is missing']]);
    const p = new Packr({ useRecords: false, moreTypes: false });
    const m = p.unpack(encodeV2([click(1)])) as { t: Buffer; tl: Buffer; c: Buffer };
    expect(() => decodeClickBatch(p.pack({ ...m, t: m.t.subarray(1) }))).toThrow(ClickCodecError);
    expect(() => decodeClickBatch(p.pack({ ...m, t: Buffer.concat([m.t, Buffer.from('x')]) }))).toThrow(ClickCodecError);
    expect(() => decodeClickBatch(p.pack({ ...m, tl: m.tl.subarray(4) }))).toThrow(ClickCodecError);
    // a dictionary index past the dictionary is an event refused, not a text read
    const c = Buffer.from(m.c);
    c.writeUInt16LE(999, 0);
    expect(decodeClickBatch(p.pack({ ...m, c })).rejected.map((r) => r.reason)).toEqual(['workspaceId refers past the string table']);
  });
});
