import { describe, expect, it } from 'vitest';
import { NdjsonError, NdjsonLines } from './ndjson-lines.js';

function read(body: string, chunk = Infinity, max = 1000): string[] {
  const bytes = Buffer.from(body);
  const n = new NdjsonLines(max);
  const out: string[] = [];
  const step = chunk === Infinity ? Math.max(bytes.length, 1) : chunk;
  for (let i = 0; i < bytes.length; i += step) out.push(...n.push(bytes.subarray(i, i + step)));
  out.push(...n.end());
  return out;
}

describe('NdjsonLines', () => {
  it('one item per line, LF or CRLF, blank lines and a missing final newline are fine', () => {
    const body = '\ufeff{"a":1}\r\n\n  {"b":"ü"}  \n{"c":[1,2]}';
    for (const chunk of [Infinity, 1, 5]) expect(read(body, chunk).map((l) => JSON.parse(l))).toEqual([{ a: 1 }, { b: 'ü' }, { c: [1, 2] }]);
  });

  it('a bad line is an error naming its line number', () => {
    for (const chunk of [Infinity, 1]) {
      try {
        read('{"a":1}\n\n{"a":\n{"b":2}\n', chunk);
        throw new Error('no error');
      } catch (err) {
        expect(err).toBeInstanceOf(NdjsonError);
        expect((err as NdjsonError).line).toBe(3);
      }
    }
  });

  it('a line longer than the limit is an error', () => {
    expect(() => read(`{"a":"${'x'.repeat(50)}"}\n`, 8, 20)).toThrow(/line 1 is longer than 20 bytes/);
  });
});
