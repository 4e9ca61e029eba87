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
 * Memory is bounded: at most `maxKeys` keys, the least recently touched forgotten first. What is
 * forgotten only matters for a live copy arriving after that many other updates — core NATS does
 * not hold messages that long — or for a transient older value until the KV's newer entry follows.
 * In memory only: after a restart the node catches up from the KV alone before it takes live updates.
 */
export class UpdateOrder {
  readonly #keys = new Map<string, { seq: number; live: boolean }>();
  #unconfirmed = 0;

  constructor(private readonly maxKeys = 100_000) {}

  /** Live updates applied that no KV entry has confirmed yet. */
  get unconfirmed(): number {
    return this.#unconfirmed;
  }

  get size(): number {
    return this.#keys.size;
  }

  /** A live update for `key` at outbox `seq`: true when it is to be applied. */
  live(key: string, seq: number): boolean {
    const r = this.#keys.get(key);
    if (r !== undefined && seq <= r.seq) return false;
    this.#set(key, seq, true, r);
    return true;
  }

  /**
   * A KV entry for `key` (`seq` null: it carries none): true when it is to be written. `remember`:
   * record its sequence even when nothing was known of the key (a node that serves live updates).
   */
  kv(key: string, seq: number | null, remember: boolean): boolean {
    const r = this.#keys.get(key);
    if (seq === null) {
      if (r !== undefined) this.#delete(key, r);
      return true;
    }
    if (r !== undefined && r.live && seq < r.seq) return false;
    if (r !== undefined || remember) this.#set(key, seq, false, r);
    return true;
  }

  #set(key: string, seq: number, live: boolean, old: { seq: number; live: boolean } | undefined): void {
    if (old !== undefined) this.#delete(key, old); // re-inserted at the end: least recently touched first
    this.#keys.set(key, { seq, live });
    if (live) this.#unconfirmed++;
    while (this.#keys.size > this.maxKeys) {
      const first = this.#keys.entries().next().value!;
      this.#delete(first[0], first[1]);
    }
  }

  #delete(key: string, r: { live: boolean }): void {
    this.#keys.delete(key);
    if (r.live) this.#unconfirmed--;
  }
}
