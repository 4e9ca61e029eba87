/** Webhook metrics on the app's registry: attempts, outcomes, latency, in-flight, queue depth. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Queryable } from '../db/pool.js';

export interface WebhookMetrics {
  attempts: Counter<'result'>;
  deliveries: Counter<'status'>;
  attemptDuration: Histogram;
  inFlight: Gauge;
  eventsFannedOut: Counter;
  deliveriesCreated: Counter;
  endpointsDisabled: Counter<'reason'>;
  tickDuration: Histogram<'kind'>;
  tickSize: Histogram<'kind'>;
}

function once<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** Registers (once per registry) and returns the webhook metrics; `db` feeds the queue-depth gauge. */
export function webhookMetrics(registry: Registry, db?: Queryable): WebhookMetrics {
  const registers = [registry];
  if (db) {
    once(registry, 'linkplane_webhook_queue_depth', () =>
      new Gauge({
        name: 'linkplane_webhook_queue_depth',
        help: 'Deliveries waiting (pending: not yet tried; failed: waiting for a retry) and dead-lettered',
        labelNames: ['status'],
        registers,
        async collect() {
          const { rows } = await db.query<{ pending: string; failed: string; dead: string }>(
            `SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'failed') AS failed,
                    (SELECT count(*) FROM webhook_deliveries WHERE status = 'dead') AS dead
             FROM webhook_deliveries WHERE status IN ('pending', 'failed')`,
          );
          const r = rows[0];
          for (const s of ['pending', 'failed', 'dead'] as const) this.set({ status: s }, Number(r?.[s] ?? 0));
        },
      }),
    );
  }
  return {
    attempts: once(registry, 'linkplane_webhook_attempts_total', () =>
      new Counter({ name: 'linkplane_webhook_attempts_total', help: 'Delivery attempts by result (a stable error code, or ok)', labelNames: ['result'], registers })),
    deliveries: once(registry, 'linkplane_webhook_deliveries_total', () =>
      new Counter({ name: 'linkplane_webhook_deliveries_total', help: 'Delivery state changes recorded: succeeded, failed (retry scheduled), dead', labelNames: ['status'], registers })),
    attemptDuration: once(registry, 'linkplane_webhook_attempt_duration_seconds', () =>
      new Histogram({
        name: 'linkplane_webhook_attempt_duration_seconds',
        help: 'Time from sending a delivery to its response',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      })),
    inFlight: once(registry, 'linkplane_webhook_in_flight', () =>
      new Gauge({ name: 'linkplane_webhook_in_flight', help: 'Deliveries being sent by this process', registers })),
    eventsFannedOut: once(registry, 'linkplane_webhook_events_fanned_out_total', () =>
      new Counter({ name: 'linkplane_webhook_events_fanned_out_total', help: 'Events taken from the outbox by the fan-out', registers })),
    deliveriesCreated: once(registry, 'linkplane_webhook_deliveries_created_total', () =>
      new Counter({ name: 'linkplane_webhook_deliveries_created_total', help: 'Deliveries created by the fan-out', registers })),
    endpointsDisabled: once(registry, 'linkplane_webhook_endpoints_disabled_total', () =>
      new Counter({ name: 'linkplane_webhook_endpoints_disabled_total', help: 'Endpoints disabled automatically (gone: 410; failing: every attempt failed for WEBHOOK_DISABLE_AFTER)', labelNames: ['reason'], registers })),
    tickDuration: once(registry, 'linkplane_webhook_tick_duration_seconds', () =>
      new Histogram({
        name: 'linkplane_webhook_tick_duration_seconds',
        help: 'Dispatcher transactions: lease due deliveries (kind=claim), record finished attempts (kind=record)',
        labelNames: ['kind'],
        buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
        registers,
      })),
    tickSize: once(registry, 'linkplane_webhook_tick_size', () =>
      new Histogram({
        name: 'linkplane_webhook_tick_size',
        help: 'Attempts recorded (kind=recorded) and deliveries leased (kind=claimed) per dispatcher transaction',
        labelNames: ['kind'],
        buckets: [0, 1, 4, 16, 64, 256, 1024],
        registers,
      })),
  };
}
