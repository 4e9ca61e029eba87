import { describe, expect, it } from 'vitest';
import { backoffMs, parseRetryAfter, RETRY_DEFAULTS, retryableStatus } from '../src/retry.js';

describe('retry policy', () => {
  it('full jitter: a uniform wait in [0, min(cap, base·2^attempt))', () => {
    const opts = { ...RETRY_DEFAULTS, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffMs(a, opts, null, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffMs(3, opts, null, () => 0)).toBe(0);
    expect(backoffMs(2, opts, null, () => 0.5)).toBe(200);
  });

  it('Retry-After wins over the backoff, in seconds or as an HTTP date', () => {
    expect(backoffMs(0, RETRY_DEFAULTS, 7)).toBe(7000);
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter('Thu, 03 Dec 2026 10:00:30 GMT', Date.parse('2026-12-03T10:00:00Z'))).toBe(30);
    expect(parseRetryAfter('Thu, 03 Dec 2026 09:00:00 GMT', Date.parse('2026-12-03T10:00:00Z'))).toBe(0);
    expect([parseRetryAfter(null), parseRetryAfter(''), parseRetryAfter('soon')]).toEqual([null, null, null]);
  });

  it('retries 429, 5xx and idempotency_in_flight; not other 4xx', () => {
    const cases: [number, string, boolean][] = [
      [429, 'rate_limited', true], [500, 'internal_error', true], [502, 'http_502', true], [503, 'service_unavailable', true],
      [409, 'idempotency_in_flight', true], [409, 'path_conflict', false], [400, 'validation_failed', false],
      [401, 'unauthorized', false], [404, 'link_not_found', false], [422, 'idempotency_key_reused', false],
    ];
    for (const [status, code, want] of cases) expect([status, code, retryableStatus(status, code)]).toEqual([status, code, want]);
  });
});
