/**
 * `npm run control-plane`: reads config (SECRETS_KEY must be valid), prepares Postgres (create
 * DB, migrate under a lock, bootstrap key, re-seal stored secrets under SECRETS_KEY), connects NATS in the background, starts the outbox relay, listens.
 * SIGTERM/SIGINT: stop accepting, finish in-flight requests, stop workers, exit 0.
 */
import { ConfigError, connectNats, createLogger, natsNames, startOpsServer, type Logger } from '../shared/index.js';
import { buildApp } from './app.js';
import { dropExpiredAuditPartitions, ensureAuditPartitions } from './audit/index.js';
import { loadControlPlaneConfig, type ControlPlaneConfig } from './config.js';
import { ensureDatabase } from './db/ensure-database.js';
import { opsPortRoutes, type ReadinessProbe } from './http/ops-routes.js';
import { migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import { purgeExpired } from './idempotency/store.js';
import { JobWorkers } from './jobs/index.js';
import { clickStreamSettings, createClickPipeline } from './ingest/index.js';
import { bootstrapAdminKey } from './keys/key-store.js';
import { createMetrics } from './metrics.js';
import { OutboxBacklogProbe } from './outbox/backlog.js';
import { JetStreamSetup } from './outbox/jetstream-setup.js';
import { OutboxRelay } from './outbox/relay.js';
import { resealedCount, resealSecrets, secretBoxFrom, type SecretBox } from './secrets/index.js';
import { startTracing, traceQueries } from './tracing/index.js';
import { startWebhookWorkers, webhookSettings } from './webhooks/index.js';

const MAINTENANCE_MS = 10 * 60_000;

async function start(config: ControlPlaneConfig, secrets: SecretBox, log: Logger): Promise<void> {
  const tracing = startTracing(
    {
      endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
      headers: config.OTEL_EXPORTER_OTLP_HEADERS,
      serviceName: config.OTEL_SERVICE_NAME,
      sampleRatio: config.OTEL_TRACES_SAMPLER_ARG,
      scheduleDelayMs: config.OTEL_BSP_SCHEDULE_DELAY,
    },
    log.child({ module: 'tracing' }),
  );
  if (await ensureDatabase(config.DATABASE_URL)) log.info('database created');
  const pool = createPool(config.DATABASE_URL, { max: config.DB_POOL_MAX, applicationName: 'linkplane-control-plane' });
  if (tracing.enabled) traceQueries(pool);
  await migrate(pool, log.child({ module: 'migrate' }));
  await ensureAuditPartitions(pool);
  if (config.BOOTSTRAP_ADMIN_KEY) {
    const r = await bootstrapAdminKey(pool, config.BOOTSTRAP_ADMIN_KEY);
    log.info({ result: r }, r === 'created' ? 'bootstrap admin key created in workspace default' : 'API keys exist; BOOTSTRAP_ADMIN_KEY ignored');
  }
  // secrets stored in clear (before sealing) or under an old key move to SECRETS_KEY; one that
  // opens under no key we hold stops the start: SECRETS_KEYS_OLD lacks a key still in use
  const sealed = await resealSecrets(pool, secrets);
  if (sealed.failed.length > 0) {
    throw new Error(`${sealed.failed.length} stored secret(s) do not open with SECRETS_KEY or SECRETS_KEYS_OLD (add the key they were sealed under to SECRETS_KEYS_OLD): ${sealed.failed.slice(0, 5).join('; ')}`);
  }
  if (resealedCount(sealed) > 0) log.info({ resealed: sealed.resealed, kid: secrets.current.kid }, 'stored secrets sealed under SECRETS_KEY');

  const nats = connectNats({ servers: config.NATS_URL, name: 'linkplane-control-plane', log: log.child({ module: 'nats' }) });
  const jetstream = new JetStreamSetup({
    nats: () => nats.ready,
    prefix: config.NATS_PREFIX,
    kvReplicas: config.KV_REPLICAS,
    clicks: config.CLICK_INGEST ? clickStreamSettings(config) : null,
    log: log.child({ module: 'jetstream-setup' }),
  });
  jetstream.start();

  const metrics = createMetrics({ defaultMetrics: true });
  const relay = new OutboxRelay({
    pool,
    kv: () => jetstream.linksBucket(),
    log: log.child({ module: 'outbox-relay' }),
    batchSize: config.RELAY_BATCH,
    pollMs: config.RELAY_POLL_MS,
    registry: metrics.registry,
    liveSubjectPrefix: natsNames(config.NATS_PREFIX).linksLiveSubjectPrefix,
  });
  relay.start();
  const backlog = new OutboxBacklogProbe(pool, { registry: metrics.registry });

  const hooks = webhookSettings(config);
  const jobs = new JobWorkers({
    pool,
    log: log.child({ module: 'jobs' }),
    scheme: config.SHORT_URL_SCHEME,
    workers: config.JOB_WORKERS,
    pollMs: config.JOB_POLL_MS,
    maxAttempts: config.JOB_MAX_ATTEMPTS,
    retentionDays: config.JOB_RETENTION_DAYS,
    callbacks: { allowPrivate: hooks.allowPrivate, timeoutMs: hooks.timeoutMs, retry: hooks.policy },
    registry: metrics.registry,
    secrets,
  });
  jobs.start();

  const clicks = createClickPipeline({ pool, nats: () => nats.ready, config, log, metrics });
  clicks.maintenance.start();
  clicks.compactor.start();
  if (config.CLICK_INGEST) clicks.ingest.start();

  const webhooks = startWebhookWorkers({ pool, config, log, metrics, secrets });

  const probes: ReadinessProbe[] = [
    { name: 'nats', check: () => nats.connected() },
    // a bucket or stream JetStream cannot place: 503, with its reason in details.jetstream
    { name: 'jetstream', check: () => jetstream.status.placed, detail: () => jetstream.status },
    // a backlog is shown, not a 503: the API keeps taking writes into the outbox (docs/operations.md, "Faults: what you see")
    { name: 'outbox', detail: async () => ({ ...(await backlog.read()), relay: relay.health() }) },
  ];
  // metrics, health and readiness for Prometheus and probes, apart from the API port
  const ops = await startOpsServer({ host: config.OPS_HOST, port: config.OPS_PORT, routes: opsPortRoutes(pool, metrics, probes), log: log.child({ module: 'ops' }) });
  const app = await buildApp({ pool, config, log, metrics, secrets, probes, tracing });
  await app.listen({ port: config.PORT, host: config.HOST });

  const maintenance = setInterval(() => {
    void ensureAuditPartitions(pool)
      .then(() => dropExpiredAuditPartitions(pool, config.AUDIT_RETENTION_DAYS))
      .then((dropped) => dropped.length > 0 && log.info({ dropped }, 'audit months past AUDIT_RETENTION_DAYS dropped'))
      .catch((err: unknown) => log.warn({ err }, 'audit partition maintenance failed'));
    void purgeExpired(pool).catch((err: unknown) => log.warn({ err }, 'idempotency purge failed'));
    void pool
      .query(`DELETE FROM link_outbox WHERE published_at < now() - interval '1 day'`)
      .catch((err: unknown) => log.warn({ err }, 'outbox purge failed'));
    void resealSecrets(pool, secrets)
      .then((r) => {
        if (r.failed.length > 0) log.error({ failed: r.failed.slice(0, 20), count: r.failed.length }, 'stored secrets that open with no key held (SECRETS_KEYS_OLD?)');
        else if (resealedCount(r) > 0) log.info({ resealed: r.resealed }, 'stored secrets sealed under SECRETS_KEY');
      })
      .catch((err: unknown) => log.warn({ err }, 'secret re-seal failed'));
  }, MAINTENANCE_MS);
  maintenance.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    clearInterval(maintenance);
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 20_000);
    force.unref();
    // keep-alive sockets that finish their last request after close() began would hold it open
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(sweep);
    log.debug('http server closed');
    await jobs.stop();
    log.debug('job workers stopped');
    await relay.stop();
    await jetstream.stop();
    log.debug('relay stopped');
    await webhooks.stop();
    log.debug('webhook workers stopped');
    await clicks.ingest.stop();
    await clicks.compactor.stop();
    await clicks.maintenance.stop();
    log.debug('click ingest stopped');
    await nats.close();
    log.debug('nats closed');
    await pool.end();
    await ops.close();
    await tracing.shutdown(); // last: the spans of everything above are exported
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

let config: ControlPlaneConfig;
let secrets: SecretBox;
try {
  config = loadControlPlaneConfig();
  secrets = secretBoxFrom(config);
} catch (err) {
  console.error(err instanceof ConfigError ? `linkplane control plane: ${err.message}` : err);
  process.exit(1);
}
const log = createLogger({ name: 'control-plane', level: config.LOG_LEVEL });
start(config, secrets, log).catch((err: unknown) => {
  log.fatal({ err }, 'control plane failed to start');
  process.exit(1);
});
