/**
 * When to try again: the retry schedule (`30s,2m,10m,1h` by default) with jitter, and the
 * receiver's `Retry-After` on 429/503. Pure functions; the random source is passed in.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** `1.5s` → 1500. Throws on anything else (config validation catches it first). */
export function parseDuration(raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new Error(`"${raw}" is not a duration such as 500ms, 30s, 2m, 1h or 5d`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

/** `30s,2m,10m,1h` → [30000, 120000, 600000, 3600000]. */
export function parseSchedule(raw: string): number[] {
  return raw.split(',').map(parseDuration);
}

/** The largest wait a Retry-After may ask for; beyond it we still retry after this long. */
export const RETRY_AFTER_CAP_MS = 3_600_000;

/**
 * Milliseconds from a `Retry-After` header (delta-seconds or an HTTP date), capped; null when
 * absent or unparsable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  const s = v.trim();
  let ms: number;
  if (/^\d+$/.test(s)) ms = Number(s) * 1000;
  else {
    const t = Date.parse(s);
    if (Number.isNaN(t)) return null;
    ms = t - now;
  }
  return Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS);
}

export interface RetryPolicy {
  /** Delays before retry 1, 2, …; its length is the number of retries. */
  schedule: readonly number[];
  /** Fraction: each delay is scaled by a factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
}

/**
 * The delay before the next attempt after `cycleAttempts` failed attempts in this cycle, or null
 * when the schedule is exhausted (dead-letter). `retryAfterMs` (429/503) replaces the schedule's
 * delay but does not add attempts.
 */
export function nextDelay(policy: RetryPolicy, cycleAttempts: number, retryAfterMs: number | null, random: () => number = Math.random): number | null {
  const base = policy.schedule[cycleAttempts - 1];
  if (base === undefined) return null;
  if (retryAfterMs !== null) return retryAfterMs;
  const factor = 1 + policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(base * factor));
}
