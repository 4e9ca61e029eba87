/** The id scheme (docs/ids.md): one form for every id, ULIDs and UUIDv7-backed ids alike. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { newClickId, newUuidV7 } from '../shared/index.js';
import { bytesToId, ID_PREFIXES, idPattern, idToBytes, idToUuid, isId, newId, ulid, uuidToId, type IdPrefix } from './ids.js';

/** The 48-bit ms time at the front of an id body (Crockford base32, first 10 characters). */
const timeOf = (id: string): number => {
  const body = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  return [...body].reduce((t, c) => t * 32 + '0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c), 0);
};

describe('ids', () => {
  it('a UUIDv7 and its clk_/evt_ id are the same 16 bytes: known value, and back', () => {
    expect(uuidToId('clk', '0193a0c4-6f00-7000-8000-000000000001')).toBe('clk_01JEGC8VR0E008000000000001');
    expect(idToUuid('clk', 'clk_01JEGC8VR0E008000000000001')).toBe('0193a0c4-6f00-7000-8000-000000000001');
    expect(uuidToId('evt', 'ffffffff-ffff-ffff-ffff-ffffffffffff')).toBe('evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ');
    expect(uuidToId('evt', '00000000-0000-0000-0000-000000000000')).toBe('evt_00000000000000000000000000');
    for (let i = 0; i < 1000; i++) {
      const u = newUuidV7();
      const id = uuidToId('evt', u);
      expect(id).toMatch(new RegExp(idPattern('evt')));
      expect(idToUuid('evt', id)).toBe(u);
    }
  });

  it('a click id shows its UUIDv7 time as the id time (the same as a ULID made at that ms), so both sort by time', () => {
    const ms = Date.UTC(2026, 11, 3, 10, 30, 0, 123);
    const click = uuidToId('clk', newClickId(ms));
    expect(timeOf(click)).toBe(ms);
    expect(click.slice(4, 14)).toBe(ulid(ms).slice(0, 10));
    const ids = [ms - 1, ms, ms + 1, ms + 1000].map((t) => uuidToId('clk', newClickId(t)));
    expect([...ids].sort()).toEqual(ids);
  });

  it('every prefix makes ids of the documented form that round-trip through their bytes', () => {
    for (const prefix of Object.keys(ID_PREFIXES) as IdPrefix[]) {
      const id = newId(prefix);
      expect(id).toMatch(new RegExp(idPattern(prefix)));
      expect(isId(id)).toBe(true);
      expect(bytesToId(prefix, idToBytes(prefix, id)!)).toBe(id);
      expect(Math.abs(timeOf(id) - Date.now())).toBeLessThan(60_000);
    }
  });

  it('docs/ids.md: its example id, UUID and time agree, and its table names every prefix', () => {
    const doc = readFileSync(new URL('../docs/ids.md', import.meta.url), 'utf8');
    const [, id, uuid, time] = /`(clk_[0-9A-Z]{26})` is the UUID\s+`([0-9a-f-]{36})`, and the time of both is (\S+)Z\./.exec(doc) ?? [];
    expect(idToUuid('clk', id!)).toBe(uuid);
    expect(new Date(timeOf(id!)).toISOString()).toBe(`${time}Z`);
    const rows = [...doc.matchAll(/^\| `([a-z]+)_` \|/gm)].map((m) => m[1]);
    expect(rows.sort()).toEqual(Object.keys(ID_PREFIXES).sort());
    expect(doc).toContain(`\`^<prefix>_${'[0-7][0-9A-HJKMNP-TV-Z]{25}'}$\``);
  });

  const refused: [string, string][] = [
    ['lower case', 'ln_01jegc8vr0e008000000000001'],
    ['I, L, O and U are not Crockford digits', 'ln_01JEGC8VR0E00800000000000I'],
    ['more than 128 bits (first character above 7)', 'ln_81JEGC8VR0E008000000000001'],
    ['too short', 'ln_01JEGC8VR0E00800000000000'],
    ['too long', 'ln_01JEGC8VR0E0080000000000011'],
    ['another prefix', 'dom_01JEGC8VR0E008000000000001'],
    ['a bare ULID', '01JEGC8VR0E008000000000001'],
    ['a UUID', '0193a0c4-6f00-7000-8000-000000000001'],
  ];
  for (const [why, id] of refused) {
    it(`refuses ${why}`, () => {
      expect(idToBytes('ln', id)).toBeNull();
      expect(new RegExp(idPattern('ln')).test(id)).toBe(false);
    });
  }
});
