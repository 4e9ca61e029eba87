/**
 * The outbox backlog: rows not yet published to the KV bucket, and how old the oldest is. Every
 * control plane reports the same numbers (one table); they grow when the relay cannot publish
 * (JetStream without quorum, a bucket that cannot be placed) or falls behind. Read at most once a
 * second however often /readyz and /metrics are asked.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Pool } from '../db/pool.js';

export interface OutboxBacklog {
  depth: number;
  /** 0 when the outbox is empty. */
  oldest_age_seconds: number;
}

export class OutboxBacklogProbe {
  private cached: { at: number; value: Promise<OutboxBacklog> } | null = null;
  private readonly ttlMs: number;

  constructor(
    private readonly pool: Pool,
    opts: { registry?: Registry; ttlMs?: number } = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 1_000;
    if (!opts.registry) return;
    const registers = [opts.registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const probe = this;
    new Gauge({
      name: 'linkplane_outbox_depth', help: 'outbox rows not yet published to the links bucket', registers,
      async collect() {
        const b = await probe.read().catch(() => null);
        if (b) this.set(b.depth);
      },
    });
    new Gauge({
      name: 'linkplane_outbox_oldest_age_seconds', help: 'age of the oldest unpublished outbox row (0 when empty)', registers,
      async collect() {
        const b = await probe.read().catch(() => null);
        if (b) this.set(b.oldest_age_seconds);
      },
    });
  }

  read(): Promise<OutboxBacklog> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.value;
    const value = this.pool
      .query<{ depth: string; age: number | null }>(
        `SELECT count(*) AS depth, extract(epoch FROM now() - min(created_at))::float8 AS age FROM link_outbox WHERE published_at IS NULL`,
      )
      .then(({ rows }) => ({ depth: Number(rows[0]!.depth), oldest_age_seconds: Math.max(0, Math.round((rows[0]!.age ?? 0) * 10) / 10) }));
    this.cached = { at: now, value };
    value.catch(() => {
      if (this.cached?.value === value) this.cached = null;
    });
    return value;
  }
}
