import { describe, expect, it } from 'vitest';
import { MAX_INSTANT, MIN_INSTANT, readInstant } from './instant.js';

describe('readInstant: every date the API takes', () => {
  const ok: [string, string][] = [
    ['2026-03-01', '2026-03-01T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2026-03-01T10:20', '2026-03-01T10:20:00.000Z'],
    ['2026-03-01T10:20:30Z', '2026-03-01T10:20:30.000Z'],
    ['2026-03-01 10:20:30.123456z', '2026-03-01T10:20:30.123Z'],
    ['2026-03-01T10:20:30+02:00', '2026-03-01T08:20:30.000Z'],
    ['2026-03-01T10:20:30-0530', '2026-03-01T15:50:30.000Z'],
    ['2026-03-01T00:00:00+23:59', '2026-02-28T00:01:00.000Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['0099-06-01', '0099-06-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ];
  it.each(ok)('%s → %s', (v, iso) => {
    const r = readInstant(v);
    expect(r).toEqual({ ok: true, ms: Date.parse(iso) });
  });

  const bad: [string, string][] = [
    ['0000-01-01', 'out_of_range'],
    ['0000-12-31T23:59:59Z', 'out_of_range'],
    ['0001-01-01T00:00:00+00:01', 'out_of_range'],
    ['9999-12-31T23:59:59-00:01', 'out_of_range'],
    ['9999-12-31T23:59:59-23:59', 'out_of_range'],
    ['2026-02-29', 'format'],
    ['2026-02-30', 'format'],
    ['2026-04-31', 'format'],
    ['1900-02-29', 'format'],
    ['2026-13-01', 'format'],
    ['2026-00-10', 'format'],
    ['2026-01-00', 'format'],
    ['2026-01-01T24:00:00Z', 'format'],
    ['2026-01-01T25:00:00Z', 'format'],
    ['2026-01-01T10:60:00Z', 'format'],
    ['2026-01-01T10:00:60Z', 'format'],
    ['2026-01-01T00:00:00+24:00', 'format'],
    ['2026-01-01T00:00:00+99:99', 'format'],
    ['2026-01-01T00:00:00-01:60', 'format'],
    ['+012026-01-01', 'format'],
    ['2026-1-1', 'format'],
    ['2026-01-01T00:00:00.1234567890Z', 'format'],
    ['yesterday', 'format'],
    ['', 'format'],
  ];
  it.each(bad)('%s → %s', (v, problem) => {
    expect(readInstant(v)).toEqual({ ok: false, problem });
  });

  it('its bounds are year 1 and year 9999 in UTC', () => {
    expect(new Date(MIN_INSTANT).toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(new Date(MAX_INSTANT).toISOString()).toBe('9999-12-31T23:59:59.999Z');
  });
});
