import { describe, expect, it } from 'vitest';
import { normalizeLinkPath, randomBase62, requestPathToLinkPath } from './link-path.js';
import { randomBytes } from 'node:crypto';

describe('normalizeLinkPath', () => {
  const ok: [string, string][] = [
    ['deal', 'deal'],
    ['Deal', 'Deal'],
    ['spring/2026', 'spring/2026'],
    ['caf\u0065\u0301', 'caf\u00e9'], // NFD → NFC
    ['ünïcödé', 'ünïcödé'],
    ['a'.repeat(200), 'a'.repeat(200)],
    ['sku-1001_x.y~z', 'sku-1001_x.y~z'],
    ['healthz2', 'healthz2'],
  ];
  it.each(ok)('accepts %j', (raw, expected) => {
    expect(normalizeLinkPath(raw)).toEqual({ ok: true, path: expected });
  });

  const bad: [string, string][] = [
    ['', 'empty'],
    ['a'.repeat(201), 'too_long'],
    ['/deal', 'leading_slash'],
    ['deal/', 'trailing_slash'],
    ['a//b', 'empty_segment'],
    ['a/./b', 'dot_segment'],
    ['../etc', 'dot_segment'],
    ['..', 'dot_segment'],
    ['de\u0000al', 'control_character'],
    ['de\nal', 'control_character'],
    ['de\u200bal', 'control_character'], // zero-width space
    ['de\u202eal', 'control_character'], // RTL override
    ['de al', 'invalid_character'],
    ['deal?x=1', 'invalid_character'],
    ['deal#x', 'invalid_character'],
    ['de%41l', 'invalid_character'],
    ['a\\b', 'invalid_character'],
    ['pay\u00adpal', 'invisible_character'], // soft hyphen
    ['pay\u034fpal', 'invisible_character'], // combining grapheme joiner
    ['\u115fdeal', 'invisible_character'], // Hangul choseong filler
    ['deal\u1160', 'invisible_character'], // Hangul jungseong filler
    ['de\u180eal', 'invisible_character'], // Mongolian vowel separator
    ['de\u3164al', 'invisible_character'], // Hangul filler
    ['de\uffa0al', 'invisible_character'], // halfwidth Hangul filler
    ['deal\ufe0f', 'invisible_character'], // variation selector 16
    ['deal\u{e0100}', 'invisible_character'], // variation selector 17
    ['deal\u{e0041}\u{e007f}', 'invisible_character'], // tag characters
    ['de\u061cal', 'invisible_character'], // Arabic letter mark (bidi)
    ['de\u2061al', 'control_character'], // function application (already refused as before)
    ['de\u0600al', 'invisible_character'], // Arabic number sign (format)
    ['de\u{1d173}al', 'invisible_character'], // musical symbol begin beam (format)
    ['\u{1bca0}deal', 'invisible_character'], // shorthand format letter overlap
    ['healthz', 'reserved'],
    ['readyz', 'reserved'],
    ['metrics', 'reserved'],
  ];
  it.each(bad)('rejects %j as %s', (raw, problem) => {
    const r = normalizeLinkPath(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toBe(problem);
  });

  it('rejects every default-ignorable and format code point (the whole Unicode range is walked)', () => {
    const invisible = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/u;
    let refused = 0;
    for (let cp = 0xa0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      if (!invisible.test(ch)) continue;
      const r = normalizeLinkPath(`a${ch}b`);
      expect(r.ok, `U+${cp.toString(16).toUpperCase()}`).toBe(false);
      expect(requestPathToLinkPath(`/a${ch}b`), `U+${cp.toString(16).toUpperCase()}`).toBeNull();
      refused++;
    }
    expect(refused).toBeGreaterThan(4000); // tags, variation selectors and unassigned ignorables are most of them
  });

  it('keeps visible letters that sit next to the refused ranges', () => {
    for (const p of ['\u1100deal', 'de\u3131al', 'de\uffa1al', 'caf\u00e9', 'x\u0301']) {
      expect(normalizeLinkPath(p).ok, p).toBe(true);
    }
  });

  it('counts characters, not UTF-16 units', () => {
    expect(normalizeLinkPath('😀'.repeat(200)).ok).toBe(true);
    expect(normalizeLinkPath('😀'.repeat(201)).ok).toBe(false);
  });
});

describe('requestPathToLinkPath (node side) agrees with the API normalization', () => {
  const cases: [string, string | null][] = [
    ['/deal', 'deal'],
    ['/deal/', 'deal'],
    ['/spring/2026', 'spring/2026'],
    ['/caf%C3%A9', 'café'],
    ['/cafe%CC%81', 'café'], // percent-encoded NFD → NFC, same key as the API stored
    ['/%E0%A4%A', null], // broken escape
    ['/%C3%28', null], // invalid UTF-8
    ['/', null],
    ['', null],
    ['/pay%C2%ADpal', null], // soft hyphen: no stored path has one, so the node never looks it up
    ['/pay\u00adpal', null],
    ['/de%E3%85%A4al', null], // U+3164 Hangul filler
    ['/deal%EF%B8%8F', null], // variation selector 16
  ];
  it.each(cases)('%j → %j', (url, expected) => {
    expect(requestPathToLinkPath(url)).toBe(expected);
  });
});

describe('randomBase62', () => {
  it('makes paths of the asked length from the base62 alphabet, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = randomBase62(7, (n) => randomBytes(n));
      expect(p).toMatch(/^[0-9A-Za-z]{7}$/);
      seen.add(p);
    }
    expect(seen.size).toBe(2000);
  });
});
