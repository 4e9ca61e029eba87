/**
 * A size-bounded map for per-worker caches (decoded rules, parsed user agents). Eviction is
 * first-in-first-out: O(1), no bookkeeping on hits, good enough where a miss only costs a re-decode.
 */
export class BoundedCache<K, V> {
  readonly #map = new Map<K, V>();

  constructor(readonly max: number) {}

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  set(key: K, value: V): void {
    if (this.max <= 0) return;
    if (!this.#map.has(key) && this.#map.size >= this.max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    this.#map.set(key, value);
  }

  get size(): number {
    return this.#map.size;
  }

  clear(): void {
    this.#map.clear();
  }
}
