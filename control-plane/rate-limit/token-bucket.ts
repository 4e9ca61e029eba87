/**
 * Token buckets per API key, in process memory: `burst` tokens, refilled at `perSec`.
 * Several control-plane instances each keep their own buckets (documented in docs/api.md):
 * a client spread over N instances gets up to N× the rate.
 */
export interface Limit {
  burst: number;
  perSec: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Seconds until a token is available (0 when allowed). */
  retryAfter: number;
  /** Seconds until the bucket is full again. */
  reset: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly maxBuckets = 100_000) {}

  take(id: string, limit: Limit, now = Date.now()): TakeResult {
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size >= this.maxBuckets) this.evictFull(limit, now);
      b = { tokens: limit.burst, at: now };
      this.buckets.set(id, b);
    } else {
      b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSec);
      b.at = now;
    }
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    return {
      allowed,
      remaining: Math.floor(b.tokens),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / limit.perSec)),
      reset: Math.ceil((limit.burst - b.tokens) / limit.perSec),
    };
  }

  /**
   * Whether `take` would allow a request now, without taking a token: for budgets spent only by
   * some outcomes (failed authentication), checked before the request and taken after it fails.
   */
  peek(id: string, limit: Limit, now = Date.now()): TakeResult {
    const b = this.buckets.get(id);
    const tokens = b ? Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSec) : limit.burst;
    const allowed = tokens >= 1;
    return {
      allowed,
      remaining: Math.floor(tokens),
      retryAfter: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / limit.perSec)),
      reset: Math.ceil((limit.burst - tokens) / limit.perSec),
    };
  }

  private evictFull(limit: Limit, now: number): void {
    const fullAfterMs = (limit.burst / limit.perSec) * 1000;
    for (const [id, b] of this.buckets) if (now - b.at > fullAfterMs) this.buckets.delete(id);
    if (this.buckets.size >= this.maxBuckets) this.buckets.clear();
  }
}
