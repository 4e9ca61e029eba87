/**
 * Event fan-out: turns undispatched rows of the `events` outbox into one delivery per matching
 * enabled endpoint of the event's workspace, and marks the events dispatched in the same
 * transaction. Set-based and batched (click events arrive by the thousand); every control plane
 * runs one, and SKIP LOCKED gives each its own batch.
 */
import { SpanKind } from '@opentelemetry/api';
import { Backoff, OutageLog, Waker, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { withTx } from '../db/tx.js';
import { newId } from '../ids.js';
import { startSpanFrom } from '../tracing/index.js';
import type { WebhookMetrics } from './metrics.js';
import { DELIVERIES_CHANNEL, relaxedCommit } from './queue.js';

interface PairRow {
  event_id: string;
  workspace_id: string;
  type: string;
  endpoint_id: string | null;
  traceparent: string | null;
}

/**
 * A span per trace the batch continued (events written by an API request carry its context): the
 * fan-out shows in the request's trace between the write and the deliveries. One per trace, not per
 * event, so a batch of click events from one ingest transaction makes one.
 */
function fanOutSpans(rows: PairRow[], startTime: number): void {
  const perTrace = new Map<string, { events: Set<string>; deliveries: number }>();
  for (const r of rows) {
    if (!r.traceparent) continue;
    let t = perTrace.get(r.traceparent);
    if (!t) perTrace.set(r.traceparent, (t = { events: new Set(), deliveries: 0 }));
    t.events.add(r.event_id);
    if (r.endpoint_id !== null) t.deliveries++;
  }
  for (const [traceparent, t] of perTrace) {
    startSpanFrom(traceparent, 'webhook fan-out', {
      kind: SpanKind.INTERNAL,
      startTime,
      attributes: { 'linkplane.fan_out.events': t.events.size, 'linkplane.fan_out.deliveries': t.deliveries },
    }).end();
  }
}

/** One batch: returns how many events were dispatched and deliveries created. */
export async function fanOutBatch(pool: Pool, batchSize: number): Promise<{ events: number; deliveries: number }> {
  const startTime = Date.now();
  const r = await withTx(pool, async (tx) => {
    await relaxedCommit(tx); // a lost commit leaves the events undispatched: fanned out again
    const { rows } = await tx.query<PairRow>(
      `WITH batch AS (
         SELECT id, workspace_id, type, traceparent FROM events
         WHERE dispatched_at IS NULL
         ORDER BY created_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       )
       SELECT b.id AS event_id, b.workspace_id, b.type, e.id AS endpoint_id, b.traceparent
       FROM batch b
       LEFT JOIN webhook_endpoints e
         ON e.workspace_id = b.workspace_id AND e.enabled AND e.deleted_at IS NULL AND webhook_filter_matches(e.event_types, b.type)`,
      [batchSize],
    );
    if (rows.length === 0) return { events: 0, deliveries: 0, rows };
    const eventIds = [...new Set(rows.map((r) => r.event_id))];
    const pairs = rows.filter((r): r is PairRow & { endpoint_id: string } => r.endpoint_id !== null);
    // deliveries, the events marked dispatched, and a wake-up for the dispatchers: one statement
    await tx.query({
      name: 'webhook_fan_out',
      text: `WITH ins AS (
               INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[], $5::text[])
               ON CONFLICT (event_id, endpoint_id) DO NOTHING
               RETURNING 1
             ), done AS (
               UPDATE events SET dispatched_at = now() WHERE id = ANY($6::uuid[])
             )
             SELECT pg_notify('${DELIVERIES_CHANNEL}', '') WHERE EXISTS (SELECT 1 FROM ins)`,
      values: [
        pairs.map(() => newId('whd')), pairs.map((p) => p.workspace_id), pairs.map((p) => p.endpoint_id), pairs.map((p) => p.event_id),
        pairs.map((p) => p.type), eventIds,
      ],
    });
    return { events: eventIds.length, deliveries: pairs.length, rows };
  });
  if (r.rows.length > 0) fanOutSpans(r.rows, startTime);
  return { events: r.events, deliveries: r.deliveries };
}

export interface FanOutOptions {
  pool: Pool;
  log: Logger;
  batchSize: number;
  pollMs: number;
  metrics?: WebhookMetrics;
}

/** Runs batches while there is work; otherwise waits for a NOTIFY (`wake()`) or the poll timer. */
export class FanOut {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly waker = new Waker();

  constructor(private readonly opts: FanOutOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.waker.wake();
    await this.loop;
  }

  wake(): void {
    this.waker.wake();
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(100, 5_000);
    const outage = new OutageLog(this.opts.log, 'webhook fan-out');
    while (this.running) {
      try {
        const r = await fanOutBatch(this.opts.pool, this.opts.batchSize);
        backoff.reset();
        outage.ok();
        if (r.events > 0) {
          this.opts.metrics?.eventsFannedOut.inc(r.events);
          this.opts.metrics?.deliveriesCreated.inc(r.deliveries);
        }
        if (r.events < this.opts.batchSize && this.running) await this.waker.wait(this.opts.pollMs);
      } catch (err) {
        if (!this.running) break;
        outage.failed(err);
        await this.waker.wait(backoff.next());
      }
    }
  }
}
