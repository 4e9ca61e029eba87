/**
 * When to try a request again, and how long to wait: exponential backoff with full jitter
 * (a uniformly random wait in [0, min(cap, base·2^attempt)]), or exactly what the server asked
 * for in `Retry-After` when it asked.
 */
export interface RetryOptions {
  /** Retries after the first attempt (default 4; 0 turns retrying off). */
  retries?: number;
  /** Backoff base in ms (default 250). */
  baseDelayMs?: number;
  /** Backoff cap in ms (default 20 000). */
  maxDelayMs?: number;
  /** A Retry-After longer than this (ms) is not waited for: the error is thrown (default 60 000). */
  maxRetryAfterMs?: number;
}

export const RETRY_DEFAULTS: Required<RetryOptions> = { retries: 4, baseDelayMs: 250, maxDelayMs: 20_000, maxRetryAfterMs: 60_000 };

/** Status codes worth another attempt with the same Idempotency-Key. */
export function retryableStatus(status: number, code: string | undefined): boolean {
  // our own earlier attempt (timed out on our side) may still be running: its answer will be stored
  if (status === 409 && code === 'idempotency_in_flight') return true;
  return status === 429 || status >= 500;
}

/** Seconds from a Retry-After value (delta-seconds or an HTTP date), else null. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The wait before retry number `attempt` (0-based): Retry-After when given, else full jitter. */
export function backoffMs(attempt: number, opts: Required<RetryOptions>, retryAfterSec: number | null, random: () => number = Math.random): number {
  if (retryAfterSec !== null) return retryAfterSec * 1000;
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
