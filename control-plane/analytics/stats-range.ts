/**
 * The time range of a stats query: [from, to) aligned to whole buckets (UTC hours or days).
 * Defaults: `to` = the end of the current bucket, `from` = 24 h (hour) or 30 days (day) before.
 */
import { errors } from '../errors.js';
import { MAX_INSTANT, parseInstant } from '../instant.js';

export type Interval = 'hour' | 'day';
export const INTERVAL_MS: Record<Interval, number> = { hour: 3_600_000, day: 86_400_000 };
/** Most buckets one query returns: a month of hours, ten years of days. */
export const MAX_BUCKETS: Record<Interval, number> = { hour: 31 * 24, day: 3660 };

export interface StatsRange {
  from: number;
  to: number;
  interval: Interval;
}

export function statsRange(q: { from?: string; to?: string; interval?: Interval }, now = Date.now()): StatsRange {
  const interval = q.interval ?? 'day';
  const step = INTERVAL_MS[interval];
  const floor = (t: number) => t - (((t % step) + step) % step);
  const to = q.to !== undefined ? floor(parseInstant(q.to, 'to') + step - 1) : floor(now) + step;
  if (to > MAX_INSTANT) {
    throw errors.validation_failed({ field: 'to', in: 'querystring', reason: 'out_of_range' }, `to ends a ${interval} bucket past 9999-12-31 (UTC)`);
  }
  const from = q.from !== undefined ? floor(parseInstant(q.from, 'from')) : to - (interval === 'hour' ? 24 : 30) * step;
  if (from >= to) throw errors.invalid_range({ field: 'from', reason: 'from must be before to' }, 'from must be before to');
  const buckets = (to - from) / step;
  if (buckets > MAX_BUCKETS[interval]) {
    throw errors.invalid_range(
      { field: 'from', reason: 'too_many_buckets', buckets, max: MAX_BUCKETS[interval] },
      `the range spans ${buckets} ${interval}s; at most ${MAX_BUCKETS[interval]} per query (use interval=day or a shorter range)`,
    );
  }
  return { from, to, interval };
}

/** Every bucket start of the range, for zero-filled series. */
export function bucketStarts(r: StatsRange): number[] {
  const out: number[] = [];
  for (let t = r.from; t < r.to; t += INTERVAL_MS[r.interval]) out.push(t);
  return out;
}
