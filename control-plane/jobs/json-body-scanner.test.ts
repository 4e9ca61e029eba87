import { describe, expect, it } from 'vitest';
import { JsonBodyError, JsonBodyScanner } from './json-body-scanner.js';

const FIELDS = ['operation', 'callback_url', 'idempotency_key'] as const;

function scan(body: string | Buffer, chunk = Infinity): { items: string[]; fields: Record<string, unknown>; hasItems: boolean } {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const s = new JsonBodyScanner({ fields: FIELDS, maxItemBytes: 1000 });
  const items: string[] = [];
  const step = chunk === Infinity ? Math.max(bytes.length, 1) : chunk;
  for (let i = 0; i < bytes.length; i += step) items.push(...s.push(bytes.subarray(i, i + step)));
  const end = s.end();
  return { items, ...end };
}

function errorOf(body: string, chunk = Infinity): JsonBodyError {
  try {
    scan(body, chunk);
  } catch (err) {
    if (err instanceof JsonBodyError) return err;
    throw err;
  }
  throw new Error('expected a JsonBodyError');
}

describe('JsonBodyScanner', () => {
  const cases: { name: string; body: string; items: unknown[]; fields: Record<string, unknown> }[] = [
    {
      name: 'the seed body (fields after items)',
      body: '{"operation":"upsert","items":[{"domain":"go.shop.com","path":"sku-1"},{"domain":"go.shop.com","path":"sku-2"}],"idempotency_key":"k1"}',
      items: [{ domain: 'go.shop.com', path: 'sku-1' }, { domain: 'go.shop.com', path: 'sku-2' }],
      fields: { operation: 'upsert', idempotency_key: 'k1' },
    },
    { name: 'empty items', body: '{"items":[],"operation":"create"}', items: [], fields: { operation: 'create' } },
    {
      name: 'pretty-printed, strings with brackets, escapes and unicode',
      body: '{\n  "items": [\n    {"path": "a]}\\"[{", "t": ["x", {"y": null}]},\n    {"path": "bücher\\u00fc 🚀"}\n  ],\n  "callback_url": "https://x.example/cb"\n}\n',
      items: [{ path: 'a]}"[{', t: ['x', { y: null }] }, { path: 'bücherü 🚀' }],
      fields: { callback_url: 'https://x.example/cb' },
    },
    { name: 'scalar items pass through (checked later per item)', body: '{"items":[1, "two", null, true]}', items: [1, 'two', null, true], fields: {} },
  ];
  cases.forEach((c) => {
    it(`${c.name}: whole and byte by byte`, () => {
      for (const chunk of [Infinity, 1, 7]) {
        const r = scan(c.body, chunk);
        expect(r.items.map((t) => JSON.parse(t))).toEqual(c.items);
        expect(r.fields).toEqual(c.fields);
        expect(r.hasItems).toBe(true);
      }
    });
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const body = Buffer.from('{"items":[{"p":"ü€🚀"}]}');
    for (let cut = 1; cut < body.length; cut++) {
      const s = new JsonBodyScanner({ fields: FIELDS, maxItemBytes: 1000 });
      const items = [...s.push(body.subarray(0, cut)), ...s.push(body.subarray(cut))];
      s.end();
      expect(JSON.parse(items[0]!)).toEqual({ p: 'ü€🚀' });
    }
  });

  const bad: { name: string; body: string; field: string; reason: JsonBodyError['reason']; line?: number }[] = [
    { name: 'not an object', body: '[1,2]', field: 'body', reason: 'syntax' },
    { name: 'unknown field', body: '{"operation":"create","itemz":[]}', field: 'itemz', reason: 'unknown_field' },
    { name: 'repeated field', body: '{"operation":"create","operation":"upsert","items":[]}', field: 'operation', reason: 'duplicate_field' },
    { name: 'items not an array', body: '{"items":{"a":1}}', field: 'items', reason: 'not_an_array' },
    { name: 'a broken item names its index and line', body: '{"items":[\n{"a":1},\n{"a":1,},\n{"b":2}]}', field: 'items[1]', reason: 'syntax', line: 3 },
    { name: 'trailing comma in items', body: '{"items":[{"a":1},]}', field: 'items[1]', reason: 'syntax' },
    { name: 'cut off', body: '{"items":[{"a":1},{"a"', field: 'items[1]', reason: 'syntax' },
    { name: 'garbage after the object', body: '{"items":[]} x', field: 'body', reason: 'syntax' },
    { name: 'item too large', body: `{"items":[{"a":"${'x'.repeat(2000)}"}]}`, field: 'items[0]', reason: 'too_large' },
  ];
  bad.forEach((c) => {
    it(`rejects ${c.name}`, () => {
      for (const chunk of [Infinity, 1]) {
        const e = errorOf(c.body, chunk);
        expect({ field: e.field, reason: e.reason }).toEqual({ field: c.field, reason: c.reason });
        if (c.line) expect(e.line).toBe(c.line);
      }
    });
  });

  it('no items field: hasItems is false', () => {
    expect(scan('{"operation":"create"}').hasItems).toBe(false);
  });
});
