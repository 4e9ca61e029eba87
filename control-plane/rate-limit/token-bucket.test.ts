import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './token-bucket.js';

describe('TokenBuckets', () => {
  it('allows the burst, then refuses until tokens refill at the sustained rate', () => {
    const b = new TokenBuckets();
    const limit = { burst: 3, perSec: 2 };
    const t0 = 1_000_000;
    expect([1, 2, 3].map(() => b.take('k', limit, t0).allowed)).toEqual([true, true, true]);
    const refused = b.take('k', limit, t0);
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfter: 1, reset: 2 });
    expect(b.take('k', limit, t0 + 499).allowed).toBe(false);
    expect(b.take('k', limit, t0 + 1000).allowed).toBe(true); // ~1 token back after 0.5 s
    expect(b.take('other', limit, t0).remaining).toBe(2); // buckets are per key
  });

  it('never holds more than the burst', () => {
    const b = new TokenBuckets();
    const limit = { burst: 2, perSec: 100 };
    b.take('k', limit, 0);
    expect(b.take('k', limit, 3_600_000).remaining).toBe(1);
  });

  it('peek tells what take would answer without taking a token', () => {
    const b = new TokenBuckets();
    const limit = { burst: 2, perSec: 1 };
    expect(b.peek('k', limit, 0)).toEqual({ allowed: true, remaining: 2, retryAfter: 0, reset: 0 });
    b.take('k', limit, 0);
    b.take('k', limit, 0);
    expect(b.peek('k', limit, 0)).toEqual({ allowed: false, remaining: 0, retryAfter: 1, reset: 2 });
    expect(b.peek('k', limit, 0).allowed).toBe(false); // peeking twice takes nothing either
    expect(b.peek('k', limit, 1000)).toMatchObject({ allowed: true, remaining: 1 });
  });
});
