import { describe, expect, it } from 'vitest';
import { CsvReader, CsvSyntaxError, type CsvRecords } from './csv-reader.js';

function readAll(text: string, chunk = Infinity): CsvRecords {
  const r = new CsvReader();
  const out: CsvRecords = { records: [], lines: [] };
  const add = (x: CsvRecords) => {
    out.records.push(...x.records);
    out.lines.push(...x.lines);
  };
  for (let i = 0; i < text.length; i += chunk === Infinity ? text.length || 1 : chunk) add(r.push(text.slice(i, i + chunk)));
  add(r.end());
  return out;
}

function errorOf(text: string, chunk = Infinity): CsvSyntaxError {
  try {
    readAll(text, chunk);
  } catch (err) {
    if (err instanceof CsvSyntaxError) return err;
    throw err;
  }
  throw new Error('expected a CsvSyntaxError');
}

describe('CsvReader', () => {
  const cases: { name: string; text: string; records: string[][]; lines: number[] }[] = [
    { name: 'plain', text: 'a,b,c\n1,2,3\n', records: [['a', 'b', 'c'], ['1', '2', '3']], lines: [1, 2] },
    { name: 'no final line break', text: 'a,b\n1,2', records: [['a', 'b'], ['1', '2']], lines: [1, 2] },
    { name: 'CRLF', text: 'a,b\r\n1,2\r\n', records: [['a', 'b'], ['1', '2']], lines: [1, 2] },
    { name: 'empty fields', text: 'a,,c\n,,\n', records: [['a', '', 'c'], ['', '', '']], lines: [1, 2] },
    { name: 'quoted comma and quote', text: 'x,"a,b","say ""hi"""\n', records: [['x', 'a,b', 'say "hi"']], lines: [1] },
    { name: 'quoted line break counts lines', text: 'h\n"one\ntwo"\nnext\n', records: [['h'], ['one\ntwo'], ['next']], lines: [1, 2, 4] },
    { name: 'blank lines skipped', text: 'a\n\n\nb\n', records: [['a'], ['b']], lines: [1, 4] },
    { name: 'quoted empty is a record', text: 'a\n""\n', records: [['a'], ['']], lines: [1, 2] },
    { name: 'unicode', text: 'pfad,ziel\nbücher-ü,https://example.org/ü\n', records: [['pfad', 'ziel'], ['bücher-ü', 'https://example.org/ü']], lines: [1, 2] },
    { name: 'trailing empty field', text: 'a,b,\n', records: [['a', 'b', '']], lines: [1] },
  ];
  cases.forEach((c) => {
    it(`${c.name}: whole, and fed one character at a time`, () => {
      expect(readAll(c.text)).toEqual({ records: c.records, lines: c.lines });
      expect(readAll(c.text, 1)).toEqual({ records: c.records, lines: c.lines });
      expect(readAll(c.text, 3)).toEqual({ records: c.records, lines: c.lines });
    });
  });

  const bad: { name: string; text: string; reason: CsvSyntaxError['reason']; line: number; column: number }[] = [
    { name: 'quote inside an unquoted field', text: 'a,b\n1,x"y\n', reason: 'bare_quote', line: 2, column: 2 },
    { name: 'text after a closing quote', text: 'a,b\n"1"x,2\n', reason: 'text_after_quote', line: 2, column: 1 },
    { name: 'quote left open', text: 'a,b\n1,2\n3,"open\n', reason: 'unclosed_quote', line: 3, column: 2 },
    { name: 'error after a multi-line field', text: 'a\n"x\ny"\n"z"q\n', reason: 'text_after_quote', line: 4, column: 1 },
  ];
  bad.forEach((c) => {
    it(`rejects ${c.name} naming line ${c.line}, column ${c.column}`, () => {
      for (const chunk of [Infinity, 1, 4]) {
        const e = errorOf(c.text, chunk);
        expect({ reason: e.reason, line: e.line, column: e.column }).toEqual({ reason: c.reason, line: c.line, column: c.column });
        expect(e.message).toContain(`line ${c.line}`);
      }
    });
  });

  it('a record longer than the limit is an error, not unbounded memory', () => {
    const r = new CsvReader({ maxRecordChars: 100 });
    expect(() => {
      r.push('a\n"');
      for (let i = 0; i < 20; i++) r.push('x'.repeat(10));
    }).toThrow(/longer than 100/);
  });

  it('reads 1 M catalog rows in well under the time csv-parse needs', () => {
    const row = 'go.shop.com,sku-123456,https://shop.com/p/123456,"catalog,2026",catalog,pim,spring_26\n';
    const chunk = row.repeat(1000); // ~88 KB chunks
    const r = new CsvReader();
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < 1000; i++) n += r.push(chunk).records.length;
    n += r.end().records.length;
    const ms = performance.now() - t0;
    expect(n).toBe(1_000_000);
    console.log(`csv-reader: 1 000 000 rows (${((row.length * 1e6) / 1e6).toFixed(0)} MB) in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000);
  });
});
