import { describe, expect, it } from 'vitest';
import { escapeUnstorable, fieldName, findInputProblem, jsonPointer, MAX_INPUT_DEPTH } from './input-guard.js';

const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

describe('findInputProblem', () => {
  const cases: [string, unknown, ReturnType<typeof findInputProblem>][] = [
    ['clean', { a: ['x', 1, true, null, { b: 'é😀' }] }, null],
    ['NUL in a value', { a: ['x', 'y\u0000'] }, { path: ['a', 1], reason: 'nul_character' }],
    ['NUL in a key', { m: { 'k\u0000': 1 } }, { path: ['m', 'k\u0000'], reason: 'nul_character' }],
    ['lone high surrogate', { s: 'a\ud800' }, { path: ['s'], reason: 'lone_surrogate' }],
    ['lone low surrogate in a key', { '\udc00': 1 }, { path: ['\udc00'], reason: 'lone_surrogate' }],
    ['Infinity', { n: [1, Infinity] }, { path: ['n', 1], reason: 'non_finite_number' }],
    ['NaN', { n: NaN }, { path: ['n'], reason: 'non_finite_number' }],
    ['a flat query string', 'x\u0000', { path: [], reason: 'nul_character' }],
    ['32 levels', nested(MAX_INPUT_DEPTH), null],
    ['33 levels', nested(MAX_INPUT_DEPTH + 1), { path: Array.from({ length: MAX_INPUT_DEPTH }, (_, j) => (j % 2 ? 'a' : 0)), reason: 'too_deep' }],
  ];
  it.each(cases)('%s', (_name, value, want) => {
    expect(findInputProblem(value)).toEqual(want);
  });

  it('walks 100 000 levels without recursion and stops at level 33', () => {
    const p = findInputProblem(nested(100_000));
    expect(p?.reason).toBe('too_deep');
    expect(p?.path.length).toBe(MAX_INPUT_DEPTH);
  });

  it('spells paths as RFC 6901 pointers', () => {
    expect(jsonPointer(['metadata', 'a/b~c', 3])).toBe('/metadata/a~1b~0c/3');
  });

  it('escapes what Postgres text cannot hold when a name is echoed or stored', () => {
    expect(escapeUnstorable('a\u0000b\ud800c😀')).toBe('a\\u0000b\\ud800c😀');
    expect(fieldName(['metadata', 'k\u0000', 2])).toBe('metadata.k\\u0000[2]');
    expect(escapeUnstorable('plain')).toBe('plain');
  });
});
