import { describe, expect, it } from 'vitest';
import { judge, classifyStatus, type AttemptResult } from './outcome.js';
import { nextDelay, parseDuration, parseRetryAfter, parseSchedule, RETRY_AFTER_CAP_MS } from './retry-policy.js';

describe('durations and schedules', () => {
  const cases: [string, number][] = [['500ms', 500], ['30s', 30_000], ['2m', 120_000], ['10m', 600_000], ['1h', 3_600_000], ['5d', 432_000_000], ['1.5s', 1500], [' 2m ', 120_000]];
  cases.forEach(([raw, ms]) => it(`${JSON.stringify(raw)} → ${ms} ms`, () => expect(parseDuration(raw)).toBe(ms)));
  ['', '5', 's', '1w', '-1s', '1 s', 'abc'].forEach((raw) => it(`rejects ${JSON.stringify(raw)}`, () => expect(() => parseDuration(raw)).toThrow(/not a duration/)));
  it('the default schedule is 30 s, 2 m, 10 m, 1 h', () => expect(parseSchedule('30s,2m,10m,1h')).toEqual([30_000, 120_000, 600_000, 3_600_000]));
});

describe('Retry-After', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const cases: [string | undefined, number | null][] = [
    [undefined, null], ['', null], ['soon', null], ['0', 0], ['7', 7000], ['86400', RETRY_AFTER_CAP_MS],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000], ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
  ];
  cases.forEach(([v, ms]) => it(`${JSON.stringify(v)} → ${ms}`, () => expect(parseRetryAfter(v, now)).toBe(ms)));
  it('takes the first of repeated headers', () => expect(parseRetryAfter(['3', '9'], now)).toBe(3000));
});

describe('nextDelay', () => {
  const policy = { schedule: [30_000, 120_000, 600_000, 3_600_000], jitter: 0.1 };
  it('follows the schedule, then gives up', () => {
    const mid = () => 0.5; // jitter factor exactly 1
    expect([1, 2, 3, 4, 5].map((n) => nextDelay(policy, n, null, mid))).toEqual([30_000, 120_000, 600_000, 3_600_000, null]);
  });
  it('jitter stays within ±10 %', () => {
    expect(nextDelay(policy, 1, null, () => 0)).toBe(27_000);
    expect(nextDelay(policy, 1, null, () => 0.999999)).toBe(33_000);
    for (let i = 0; i < 1000; i++) {
      const d = nextDelay(policy, 2, null)!;
      expect(d).toBeGreaterThanOrEqual(108_000);
      expect(d).toBeLessThanOrEqual(132_000);
    }
  });
  it('Retry-After replaces the scheduled delay but not the attempt budget', () => {
    expect(nextDelay(policy, 1, 5000)).toBe(5000);
    expect(nextDelay(policy, 5, 5000)).toBeNull();
  });
});

describe('judge', () => {
  const policy = { schedule: [100, 200], jitter: 0 };
  const r = (statusCode: number | null, extra: Partial<AttemptResult> = {}): AttemptResult => ({
    startedAt: new Date(), durationMs: 5, statusCode, error: statusCode === null ? 'timeout' : classifyStatus(statusCode), errorDetail: null, responseBody: null, retryAfterMs: null, ...extra,
  });
  const table: { name: string; result: AttemptResult; cycle: number; verdict: unknown; endpoint: string }[] = [
    { name: '200', result: r(200), cycle: 1, verdict: { status: 'succeeded' }, endpoint: 'ok' },
    { name: '204 on the last try', result: r(204), cycle: 3, verdict: { status: 'succeeded' }, endpoint: 'ok' },
    { name: '500, first try', result: r(500), cycle: 1, verdict: { status: 'failed', retryInMs: 100 }, endpoint: 'failed' },
    { name: '500, second try', result: r(500), cycle: 2, verdict: { status: 'failed', retryInMs: 200 }, endpoint: 'failed' },
    { name: '500, schedule exhausted', result: r(500), cycle: 3, verdict: { status: 'dead', reason: 'retries_exhausted' }, endpoint: 'failed' },
    { name: 'timeout', result: r(null), cycle: 1, verdict: { status: 'failed', retryInMs: 100 }, endpoint: 'failed' },
    { name: '301 (never followed)', result: r(301), cycle: 1, verdict: { status: 'failed', retryInMs: 100 }, endpoint: 'failed' },
    { name: '410', result: r(410), cycle: 1, verdict: { status: 'dead', reason: 'endpoint_gone' }, endpoint: 'gone' },
    { name: '429 + Retry-After', result: r(429, { retryAfterMs: 9000 }), cycle: 1, verdict: { status: 'failed', retryInMs: 9000 }, endpoint: 'failed' },
    { name: '503 + Retry-After', result: r(503, { retryAfterMs: 1000 }), cycle: 2, verdict: { status: 'failed', retryInMs: 1000 }, endpoint: 'failed' },
    { name: '500 with a Retry-After is not honoured', result: r(500, { retryAfterMs: 9000 }), cycle: 1, verdict: { status: 'failed', retryInMs: 100 }, endpoint: 'failed' },
    { name: '429 without Retry-After', result: r(429), cycle: 1, verdict: { status: 'failed', retryInMs: 100 }, endpoint: 'failed' },
  ];
  table.forEach((c) => it(c.name, () => expect(judge(c.result, c.cycle, policy)).toEqual({ verdict: c.verdict, endpoint: c.endpoint })));

  it('classifies statuses', () => {
    expect([200, 299, 300, 302, 308, 400, 404, 410, 429, 500].map(classifyStatus)).toEqual([
      null, null, 'redirect_not_followed', 'redirect_not_followed', 'redirect_not_followed', 'http_status', 'http_status', 'endpoint_gone', 'http_status', 'http_status',
    ]);
  });
});
