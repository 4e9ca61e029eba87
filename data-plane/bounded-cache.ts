/**
 * A size-bounded map for per-worker caches (decoded links, prepared rules, parsed user agents).
 * Two generations: entries go into `young`; when it holds max/2 entries it becomes `old` and the
 * previous `old` is dropped whole. A hit in `old` moves the entry back to `young`, so hot entries
 * survive. O(1) everything, no per-entry bookkeeping, never more than `max` entries. (Evicting
 * one entry at a time from a Map's front degrades badly in V8 once many entries were deleted.)
 */
export class BoundedCache<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  constructor(readonly max: number) {
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  get(key: K): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined || this.#old.size === 0) return v;
    const o = this.#old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  /** The cached value for `key`, computed by `compute` (and cached) on a miss. */
  through(key: K, compute: (key: K) => V): V {
    let v = this.get(key);
    if (v === undefined) this.set(key, (v = compute(key)));
    return v;
  }

  set(key: K, value: V): void {
    if (this.max <= 0) return;
    if (this.#young.size >= this.#half && !this.#young.has(key)) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }
}
