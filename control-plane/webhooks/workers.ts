/**
 * Starts what moves webhooks in a control plane: the fan-out (events → deliveries), the
 * dispatcher (deliveries → receivers), the LISTEN connection waking both, and retention.
 * Every control plane runs them; SKIP LOCKED shares the work.
 */
import type { Logger } from '../../shared/index.js';
import type { ControlPlaneConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { EVENTS_CHANNEL } from '../events/emit.js';
import type { Metrics } from '../metrics.js';
import { secretBoxFrom, type SecretBox } from '../secrets/index.js';
import { WebhookDispatcher } from './dispatcher.js';
import { FanOut } from './fan-out.js';
import { PgListener } from './listener.js';
import { webhookMetrics } from './metrics.js';
import { DELIVERIES_CHANNEL } from './queue.js';
import { purgeWebhookHistory } from './retention.js';
import { parseDuration, parseSchedule, type RetryPolicy } from './retry-policy.js';
import { createSafeAgent, type ResolveAll } from './safe-agent.js';

export interface WebhookSettings {
  slots: number;
  endpointConcurrency: number;
  timeoutMs: number;
  policy: RetryPolicy;
  allowPrivate: boolean;
  disableAfterMs: number;
  pollMs: number;
  fanOutBatch: number;
  retentionDays: number;
  overlapHours: number;
}

export function webhookSettings(config: ControlPlaneConfig): WebhookSettings {
  return {
    slots: config.WEBHOOK_WORKERS,
    endpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    policy: { schedule: parseSchedule(config.WEBHOOK_RETRY_SCHEDULE), jitter: config.WEBHOOK_RETRY_JITTER },
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    disableAfterMs: parseDuration(config.WEBHOOK_DISABLE_AFTER),
    pollMs: config.WEBHOOK_POLL_MS,
    fanOutBatch: config.WEBHOOK_FANOUT_BATCH,
    retentionDays: config.WEBHOOK_RETENTION_DAYS,
    overlapHours: config.WEBHOOK_SECRET_OVERLAP_HOURS,
  };
}

export interface WebhookWorkersDeps {
  pool: Pool;
  config: ControlPlaneConfig;
  log: Logger;
  metrics?: Metrics;
  /** DNS resolution for the SSRF-safe agent (tests simulate rebinding with it). */
  resolve?: ResolveAll;
  random?: () => number;
  /** Opens sealed signing secrets; by default the box of config.SECRETS_KEY. */
  secrets?: SecretBox;
}

export interface WebhookWorkers {
  fanOut: FanOut;
  dispatcher: WebhookDispatcher;
  /** Stops leasing, lets in-flight attempts finish and records them, then closes connections. */
  stop(): Promise<void>;
}

const RETENTION_EVERY_MS = 10 * 60_000;

export function startWebhookWorkers(deps: WebhookWorkersDeps): WebhookWorkers {
  const s = webhookSettings(deps.config);
  const log = deps.log.child({ module: 'webhooks' });
  const metrics = deps.metrics ? webhookMetrics(deps.metrics.registry, deps.pool) : undefined;
  const agent = createSafeAgent({ allowPrivate: s.allowPrivate, connectTimeoutMs: s.timeoutMs, resolve: deps.resolve });
  const fanOut = new FanOut({ pool: deps.pool, log: log.child({ module: 'webhook-fan-out' }), batchSize: s.fanOutBatch, pollMs: s.pollMs, metrics });
  const dispatcher = new WebhookDispatcher({
    pool: deps.pool,
    agent,
    log: log.child({ module: 'webhook-dispatcher' }),
    slots: s.slots,
    endpointConcurrency: s.endpointConcurrency,
    timeoutMs: s.timeoutMs,
    allowPrivate: s.allowPrivate,
    policy: s.policy,
    disableAfterMs: s.disableAfterMs,
    pollMs: s.pollMs,
    metrics,
    random: deps.random,
    secrets: deps.secrets ?? secretBoxFrom(deps.config),
  });
  const listener = new PgListener(deps.pool, { [EVENTS_CHANNEL]: () => fanOut.wake(), [DELIVERIES_CHANNEL]: () => dispatcher.wake() }, log);
  fanOut.start();
  dispatcher.start();
  listener.start();
  const retention = setInterval(() => {
    purgeWebhookHistory(deps.pool, s.retentionDays)
      .then((n) => n > 0 && log.info({ events: n }, 'purged old webhook events and deliveries'))
      .catch((err: unknown) => log.warn({ err }, 'webhook retention purge failed'));
  }, RETENTION_EVERY_MS);
  retention.unref();
  return {
    fanOut,
    dispatcher,
    async stop() {
      clearInterval(retention);
      await fanOut.stop();
      await dispatcher.stop();
      await listener.stop();
      await agent.close();
    },
  };
}
