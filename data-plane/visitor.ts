/**
 * Sticky A/B assignment: a visitor is the pair (client IP, user agent); the same visitor always
 * gets the same variant of the same rule, and different links split independently (the rule's
 * seed is mixed in). 32-bit FNV-1a + the murmur3 finalizer: fast, well spread, not a secret.
 */
import type { Variant } from '../shared/index.js';

export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function visitorHash(ip: string, userAgent: string): number {
  return hash32(userAgent, hash32(ip) ^ 0x9e3779b9);
}

/** The variant for `visitor` (sticky), using the cumulative weights the compiler precomputed. */
export function pickVariant(variants: readonly Variant[], visitor: number, seed: number): Variant | null {
  const last = variants[variants.length - 1];
  if (!last || !(last.cumulative > 0)) return null;
  const x = (mix32(visitor ^ seed) / 4294967296) * last.cumulative;
  for (const v of variants) if (x < v.cumulative) return v;
  return last;
}
