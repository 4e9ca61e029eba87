/**
 * `last_used_at` without a write per request: each use is noted in memory, at most once per key
 * per `granularityMs` (a minute), and the noted uses are written in one UPDATE per flush.
 * A control plane that dies loses at most one flush interval of `last_used_at` precision.
 */
import type { Logger } from '../../shared/index.js';
import type { Queryable } from '../db/pool.js';

export class LastUsed {
  private readonly noted = new Map<string, number>(); // key id → last time written (or queued)
  private pending = new Map<string, number>(); // key id → time to write
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Queryable,
    private readonly opts: { granularityMs: number; flushMs: number; log?: Logger; now?: () => number },
  ) {}

  /** A request authenticated with `keyId`: queue a write unless one was made within the granularity. */
  touch(keyId: string): void {
    const now = this.opts.now?.() ?? Date.now();
    const last = this.noted.get(keyId);
    if (last !== undefined && now - last < this.opts.granularityMs) return;
    this.noted.set(keyId, now);
    this.pending.set(keyId, now);
    if (this.noted.size > 100_000) this.noted.clear(); // bounded: forgetting costs one extra write per key
  }

  /** Writes the queued uses in one statement; returns how many keys it wrote. */
  async flush(): Promise<number> {
    if (this.pending.size === 0) return 0;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    const at = ids.map((id) => new Date(batch.get(id)!).toISOString());
    try {
      const r = await this.db.query(
        `UPDATE api_keys k SET last_used_at = u.at FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
          WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.at)`,
        [ids, at],
      );
      return r.rowCount ?? 0;
    } catch (err) {
      // put them back (newer uses win) and try again next time
      for (const [id, t] of batch) if (!this.pending.has(id)) this.pending.set(id, t);
      this.opts.log?.warn({ err, keys: ids.length }, 'last_used_at flush failed');
      return 0;
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }
}
