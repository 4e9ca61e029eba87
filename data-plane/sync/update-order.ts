/**
 * Orders the two ways an update reaches a node — the live copy on core NATS and the KV entry —
 * by the outbox sequence both carry (Lp-Outbox-Seq; per key it grows in commit order).
 *
 * For each recently touched key it remembers the last sequence applied and whether that came from
 * a live update the KV has not confirmed yet:
 * - a live update is applied only when newer than anything applied for its key (a late or
 *   repeated live copy never undoes a newer KV entry or live update);
 * - a KV entry older than an unconfirmed live update is not written (the stream catching up after
 *   a leader election must not briefly serve the older value again); one at least as new confirms it;
 * - a KV entry without a sequence (written by an older relay, or by hand) is authoritative and
 *   clears what was remembered.
 *
 * Memory is bounded: at most `maxKeys` keys, in two generations of up to `maxKeys / 2` each — a key
 * touched again moves to the young one, and when that fills up the old one is forgotten whole. So a
 * key is remembered for at least `maxKeys / 2` updates of other keys after it was last touched. What is
 * forgotten only matters for a live copy arriving after that many other updates — core NATS does
 * not hold messages that long — or for a transient older value until the KV's newer entry follows.
 * While serving live updates the node remembers every KV entry it applies (a bulk import: one per
 * message), so this costs one or two map lookups and one insert per entry, with no object per key
 * and no per-entry eviction.
 * In memory only: after a restart the node catches up from the KV alone before it takes live updates.
 */
export class UpdateOrder {
  /** Per key: the outbox sequence last applied, negated while it came from an unconfirmed live update. */
  #young = new Map<string, number>();
  #old = new Map<string, number>();
  /** Unconfirmed live updates in each generation. */
  #youngLive = 0;
  #oldLive = 0;
  readonly #half: number;

  constructor(maxKeys = 100_000) {
    this.#half = Math.max(1, Math.floor(maxKeys / 2));
  }

  /** Live updates applied that no KV entry has confirmed yet. */
  get unconfirmed(): number {
    return this.#youngLive + this.#oldLive;
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  /** A live update for `key` at outbox `seq`: true when it is to be applied. */
  live(key: string, seq: number): boolean {
    const r = this.#get(key);
    if (r !== undefined && seq <= Math.abs(r)) return false;
    this.#set(key, -seq);
    return true;
  }

  /**
   * A KV entry for `key` (`seq` null: it carries none): true when it is to be written. `remember`:
   * record its sequence even when nothing was known of the key (a node that serves live updates).
   */
  kv(key: string, seq: number | null, remember: boolean): boolean {
    const r = this.#get(key);
    if (seq === null) {
      if (r !== undefined) this.#forget(key);
      return true;
    }
    if (r !== undefined && r < 0 && seq < -r) return false;
    if (r !== undefined || remember) this.#set(key, seq);
    return true;
  }

  #get(key: string): number | undefined {
    return this.#young.get(key) ?? this.#old.get(key);
  }

  /** `v`: the sequence, negative for an unconfirmed live update. Moves the key to the young generation. */
  #set(key: string, v: number): void {
    const young = this.#young.get(key);
    if (young !== undefined) {
      if (young < 0) this.#youngLive--;
    } else {
      const old = this.#old.get(key);
      if (old !== undefined) {
        this.#old.delete(key);
        if (old < 0) this.#oldLive--;
      }
    }
    this.#young.set(key, v);
    if (v < 0) this.#youngLive++;
    if (this.#young.size >= this.#half) {
      // the old generation is forgotten whole; the young one becomes old
      this.#old = this.#young;
      this.#oldLive = this.#youngLive;
      this.#young = new Map();
      this.#youngLive = 0;
    }
  }

  #forget(key: string): void {
    const young = this.#young.get(key);
    if (young !== undefined) {
      this.#young.delete(key);
      if (young < 0) this.#youngLive--;
    }
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      if (old < 0) this.#oldLive--;
    }
  }
}
