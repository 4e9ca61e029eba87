import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('traceparent', () => {
  const valid: [string, { traceId: string; spanId: string; traceFlags: number }][] = [
    [`00-${T}-${S}-01`, { traceId: T, spanId: S, traceFlags: 1 }],
    [`00-${T}-${S}-00`, { traceId: T, spanId: S, traceFlags: 0 }],
    [` 00-${T}-${S}-01 `, { traceId: T, spanId: S, traceFlags: 1 }],
    [`00-${T}-${S}-03`, { traceId: T, spanId: S, traceFlags: 1 }], // unknown flag bits dropped
    [`01-${T}-${S}-01-future`, { traceId: T, spanId: S, traceFlags: 1 }], // a later version may add fields
  ];
  valid.forEach(([header, want]) => {
    it(`accepts ${JSON.stringify(header)}`, () => {
      expect(parseTraceparent(header)).toEqual({ ...want, isRemote: true });
    });
  });

  const invalid = [
    undefined, '', 'garbage', `00-${T}-${S}`, `00-${T}-${S}-1`, `00-${T.toUpperCase()}-${S}-01`,
    `00-${'0'.repeat(32)}-${S}-01`, `00-${T}-${'0'.repeat(16)}-01`, `ff-${T}-${S}-01`, `00-${T}-${S}-01-extra`,
    `0x-${T}-${S}-01`, `00_${T}-${S}-01`, `00-${T}-${S}-0g`, `00-${T.slice(1)}z-${S}-01`,
  ];
  invalid.forEach((header) => {
    it(`ignores ${JSON.stringify(header)}`, () => {
      expect(parseTraceparent(header)).toBeNull();
    });
  });

  it('formats what it parses', () => {
    expect(formatTraceparent(parseTraceparent(`00-${T}-${S}-01`)!)).toBe(`00-${T}-${S}-01`);
    expect(formatTraceparent({ traceId: T, spanId: S, traceFlags: 0 })).toBe(`00-${T}-${S}-00`);
  });
});
