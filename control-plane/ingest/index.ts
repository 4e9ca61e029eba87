/** Click ingest (NATS → Postgres): the public entry of this folder. */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClicksStreamOptions, Logger } from '../../shared/index.js';
import type { ControlPlaneConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { Metrics } from '../metrics.js';
import { ClickIngest } from './click-ingest.js';
import { ClickMaintenance } from './click-maintenance.js';
import { RollupCompactor } from './rollup-compactor.js';
import { ClickEventSubscribers } from './event-subscribers.js';
import { createIngestMetrics } from './ingest-metrics.js';

export { ClickIngest, type ClickIngestOptions } from './click-ingest.js';
export { ClickMaintenance } from './click-maintenance.js';
export { ClickEventSubscribers, CLICK_EVENT_TYPES, type Subscriptions } from './event-subscribers.js';
export { createIngestMetrics, type IngestMetrics } from './ingest-metrics.js';
export { acceptedDays, createPartitionsAhead, dropExpiredPartitions, dayOf, dayText, DAY_MS } from './click-partitions.js';
export { DIM_DEFAULTS, ROLLUP_DIMENSIONS, variantValue, rollup, type RollupDimension, type RollupRow } from './click-rollup.js';
export { ClickSet, F as CLICK_FIELDS } from './click-set.js';
export { storeClicks, type StoreResult } from './click-writer.js';
export { RollupCompactor } from './rollup-compactor.js';
export { clickEventData } from './click-webhook-events.js';

/** The clicks stream's settings from the control plane's config (ingest and the JetStream setup). */
export function clickStreamSettings(config: ControlPlaneConfig): ClicksStreamOptions {
  return {
    replicas: config.CLICK_STREAM_REPLICAS,
    maxAgeMs: Math.round(config.CLICK_STREAM_MAX_AGE_HOURS * 3_600_000),
    maxBytes: config.CLICK_STREAM_MAX_MB * 1024 * 1024,
    duplicateWindowMs: config.CLICK_DEDUPE_WINDOW_SECONDS * 1000,
  };
}

/** Wires ingest and partition maintenance from the control plane's config (main.ts and tests). */
export function createClickPipeline(deps: {
  pool: Pool;
  nats: () => Promise<NatsConnection>;
  config: ControlPlaneConfig;
  log: Logger;
  metrics: Metrics;
}): { ingest: ClickIngest; maintenance: ClickMaintenance; compactor: RollupCompactor } {
  const { config } = deps;
  const ingest = new ClickIngest({
    pool: deps.pool,
    nats: deps.nats,
    prefix: config.NATS_PREFIX,
    log: deps.log.child({ module: 'click-ingest' }),
    metrics: createIngestMetrics(deps.metrics.registry),
    stream: clickStreamSettings(config),
    maxClicksPerTx: config.CLICK_INGEST_BATCH,
    fetchMessages: config.CLICK_INGEST_FETCH,
    concurrency: config.CLICK_INGEST_CONCURRENCY,
    ackWaitMs: config.CLICK_INGEST_ACK_WAIT_MS,
    window: { retentionDays: config.CLICK_RETENTION_DAYS, aheadDays: config.CLICK_PARTITIONS_AHEAD_DAYS },
    subscribers: new ClickEventSubscribers(deps.pool, config.CLICK_EVENTS_SUBSCRIBERS_TTL_MS),
    scheme: config.SHORT_URL_SCHEME,
  });
  const maintenance = new ClickMaintenance({
    pool: deps.pool,
    log: deps.log.child({ module: 'click-maintenance' }),
    retentionDays: config.CLICK_RETENTION_DAYS,
    aheadDays: config.CLICK_PARTITIONS_AHEAD_DAYS,
  });
  const compactor = new RollupCompactor({
    pool: deps.pool,
    log: deps.log.child({ module: 'rollup-compactor' }),
    everyMs: config.CLICK_ROLLUP_COMPACT_MS,
  });
  return { ingest, maintenance, compactor };
}
