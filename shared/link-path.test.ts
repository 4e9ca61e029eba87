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
    ['healthz', 'reserved'],
    ['readyz', 'reserved'],
    ['metrics', 'reserved'],
  ];
  it.each(bad)('rejects %j as %s', (raw, problem) => {
    const r = normalizeLinkPath(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toBe(problem);
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
