/** Click ingest metrics, registered on the app's registry (no global state). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  /** Clicks by outcome: inserted, duplicate (already stored), rejected (invalid), expired (older than retention). */
  clicks: Counter<'result'>;
  /** NATS messages by outcome: stored, dead_lettered. */
  messages: Counter<'result'>;
  txSeconds: Histogram<'path'>;
  /** Seconds between the newest click of the last transaction and its commit. */
  lagSeconds: Gauge;
  /** Messages waiting in the durable consumer (sampled). */
  pending: Gauge;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  const existing = registry.getSingleMetric('linkplane_clicks_ingested_total');
  if (existing) {
    return {
      clicks: existing as Counter<'result'>,
      messages: registry.getSingleMetric('linkplane_click_messages_total') as Counter<'result'>,
      txSeconds: registry.getSingleMetric('linkplane_click_ingest_transaction_seconds') as Histogram<'path'>,
      lagSeconds: registry.getSingleMetric('linkplane_click_ingest_lag_seconds') as Gauge,
      pending: registry.getSingleMetric('linkplane_click_ingest_pending_messages') as Gauge,
    };
  }
  return {
    clicks: new Counter({
      name: 'linkplane_clicks_ingested_total',
      help: 'Clicks seen by ingest, by result (inserted, duplicate, rejected, expired)',
      labelNames: ['result'],
      registers: [registry],
    }),
    messages: new Counter({
      name: 'linkplane_click_messages_total',
      help: 'Click batch messages by result (stored, dead_lettered)',
      labelNames: ['result'],
      registers: [registry],
    }),
    txSeconds: new Histogram({
      name: 'linkplane_click_ingest_transaction_seconds',
      help: 'Duration of one ingest transaction, by path (copy, merge)',
      labelNames: ['path'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    lagSeconds: new Gauge({
      name: 'linkplane_click_ingest_lag_seconds',
      help: 'Age of the newest click of the last ingest transaction when it committed',
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'linkplane_click_ingest_pending_messages',
      help: 'Click batch messages not yet delivered to ingest (sampled from the durable consumer)',
      registers: [registry],
    }),
  };
}
