import { describe, expect, it } from 'vitest';
import { BoundedCache } from './bounded-cache.js';

describe('BoundedCache', () => {
  it('never holds more than max entries and keeps recently used ones', () => {
    const c = new BoundedCache<number, string>(10);
    for (let i = 0; i < 1000; i++) {
      c.set(i, `v${i}`);
      c.get(0); // keep 0 hot
      expect(c.size).toBeLessThanOrEqual(10);
    }
    expect(c.get(0)).toBe('v0');
    expect(c.get(999)).toBe('v999');
    expect(c.get(1)).toBeUndefined();
  });

  it('stays O(1) under heavy churn (no slow eviction path)', () => {
    const c = new BoundedCache<string, number>(20_000);
    const t0 = performance.now();
    for (let i = 0; i < 500_000; i++) {
      if (c.get(`k${i}`) === undefined) c.set(`k${i}`, i);
    }
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(c.size).toBeLessThanOrEqual(20_000);
  });

  it('through computes a missing value once and returns the cached one after', () => {
    const c = new BoundedCache<string, string | null>(10);
    const calls: string[] = [];
    const compute = (k: string) => (calls.push(k), k === 'none' ? null : k.toUpperCase());
    expect(c.through('a', compute)).toBe('A');
    expect(c.through('a', compute)).toBe('A');
    expect(c.through('none', compute)).toBeNull();
    expect(c.through('none', compute)).toBeNull(); // null is a cached value, not a miss
    expect(calls).toEqual(['a', 'none']);
  });

  it('size 0 caches nothing', () => {
    const c = new BoundedCache<string, number>(0);
    c.set('a', 1);
    expect(c.get('a')).toBeUndefined();
  });
});
