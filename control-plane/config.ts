import { badCorsOrigins } from './http/cors.js';
import { parseTrustProxy } from './http/trust-proxy.js';
import { commonSchema, ConfigError, loadConfig, type ConfigOf, type ConfigSchema } from '../shared/index.js';

/** Every variable the control plane reads, validated once at start. */
export const controlPlaneSchema = {
  ...commonSchema,
  PORT: { kind: 'int', default: 8080, min: 0, max: 65535, doc: 'HTTP port of the API' },
  HOST: { kind: 'string', default: '127.0.0.1', doc: 'interface the API listens on' },
  OPS_PORT: {
    kind: 'int', default: 9080, min: 0, max: 65535,
    doc: 'operations port: /metrics (never on the API port), /healthz, /readyz; 0 picks a free port',
  },
  OPS_HOST: { kind: 'string', default: '127.0.0.1', doc: 'interface the operations port listens on (0.0.0.0 for a Prometheus on another host)' },
  DATABASE_URL: {
    kind: 'url', default: 'postgres://postgres@127.0.0.1:5432/linkplane', protocols: ['postgres', 'postgresql'],
    doc: 'Postgres connection URL (the database is created if missing)',
  },
  DB_POOL_MAX: { kind: 'int', default: 20, min: 2, max: 500, doc: 'Postgres pool size' },
  BOOTSTRAP_ADMIN_KEY: {
    kind: 'string', secret: true, pattern: /^\S{24,200}$/,
    doc: 'if set and no API key exists yet: create an admin key with this secret in workspace `default`',
  },
  SECRETS_KEY: {
    kind: 'string', secret: true, defaultDoc: '**required**',
    doc: 'required: 32 random bytes, base64 (`openssl rand -base64 32`), sealing webhook signing secrets and job callback secrets at rest (AES-256-GCM envelope); the control plane does not start without it (`npm start` generates one)',
  },
  SECRETS_KEYS_OLD: {
    kind: 'string', secret: true,
    doc: 'previous SECRETS_KEY values, comma-separated: they still open stored secrets, which are re-sealed under SECRETS_KEY at start and every 10 minutes',
  },
  UI_DIR: {
    kind: 'string',
    doc: 'folder of the built admin console served under /ui/ (`npm run build` writes dist/ui, the default); missing: no console',
  },
  SHORT_URL_SCHEME: { kind: 'string', default: 'https', oneOf: ['http', 'https'], doc: 'scheme of generated short URLs' },
  RATE_LIMIT_BURST: { kind: 'int', default: 200, min: 1, doc: 'token bucket size per API key (override per key)' },
  RATE_LIMIT_PER_SEC: { kind: 'number', default: 20, min: 0.001, doc: 'sustained requests/s per API key (override per key)' },
  AUTH_FAILURE_BURST: { kind: 'int', default: 30, min: 1, doc: 'failed authentications (401) a client address may make in a burst; then 429 until its bucket refills' },
  AUTH_FAILURE_PER_SEC: { kind: 'number', default: 0.5, min: 0.001, doc: 'sustained failed authentications/s per client address (IPv6: per /64)' },
  BODY_LIMIT_BYTES: { kind: 'int', default: 1_048_576, min: 1024, doc: 'largest JSON body accepted (413 above)' },
  HEADERS_TIMEOUT_MS: { kind: 'int', default: 10_000, min: 100, max: 600_000, doc: 'a client must send its request line and headers within this; then 408 and the connection is closed (slow-header attacks)' },
  TRUST_PROXY: {
    kind: 'string', default: 'false',
    doc: 'which X-Forwarded-For entry is the client (audit logs, failed-authentication limit): false, a hop count, the proxies\' addresses/CIDRs (comma-separated), or true (left-most: only behind a proxy that overwrites the header)',
  },
  CORS_ORIGINS: {
    kind: 'list', default: [],
    doc: 'origins browsers may call the API from (comma-separated `https://admin.example.com`, or `*`); none by default',
  },
  RELAY_BATCH: { kind: 'int', default: 5000, min: 1, max: 100_000, doc: 'outbox rows the relay publishes per round' },
  KV_REPLICAS: { kind: 'int', default: 1, min: 1, max: 5, doc: 'JetStream replicas of the links and visitor-salt buckets (3 on a NATS cluster)' },
  RELAY_POLL_MS: { kind: 'int', default: 500, min: 10, doc: 'relay poll interval when no notification arrives' },
  BULK_MAX_BYTES: { kind: 'int', default: 1_073_741_824, min: 1024, doc: 'largest bulk upload body (POST /v1/links/bulk, streamed; 413 above)' },
  BULK_MAX_ITEM_BYTES: { kind: 'int', default: 262_144, min: 256, max: 16_777_216, doc: 'largest single item (JSON item, NDJSON line or CSV record) of a bulk upload' },
  JOB_WORKERS: { kind: 'int', default: 2, min: 0, max: 64, doc: 'bulk-job batches processed at once by this process (0: this process runs no batches)' },
  JOB_BATCH_SIZE: { kind: 'int', default: 1000, min: 1, max: 20_000, doc: 'items per batch: the unit of work, of transaction and of retry' },
  JOB_POLL_MS: { kind: 'int', default: 200, min: 10, max: 60_000, doc: 'how often idle job workers look for pending batches' },
  JOB_MAX_ATTEMPTS: { kind: 'int', default: 5, min: 1, max: 100, doc: 'failed attempts (errors, not crashes) after which a batch\'s items are marked failed' },
  JOB_RETENTION_DAYS: { kind: 'int', default: 7, min: 1, max: 3650, doc: 'finished jobs, their errors and results are deleted after this many days' },
  WEBHOOK_WORKERS: { kind: 'int', default: 32, min: 0, max: 10_000, doc: 'webhook deliveries in flight at once in this process (0: this process does not dispatch)' },
  WEBHOOK_ENDPOINT_CONCURRENCY: { kind: 'int', default: 10, min: 1, max: 1000, doc: "deliveries in flight per endpoint across all control planes (an endpoint's max_concurrency overrides)" },
  WEBHOOK_TIMEOUT_MS: { kind: 'int', default: 10_000, min: 100, max: 120_000, doc: 'a delivery attempt (connect, send, response headers, first 1 KB) must finish within this' },
  WEBHOOK_RETRY_SCHEDULE: {
    kind: 'string', default: '30s,2m,10m,1h', pattern: /^\s*\d+(\.\d+)?(ms|s|m|h|d)\s*(,\s*\d+(\.\d+)?(ms|s|m|h|d)\s*)*$/,
    doc: 'delays before each retry (ms, s, m, h, d); after the last retry fails the delivery is dead-lettered',
  },
  WEBHOOK_RETRY_JITTER: { kind: 'number', default: 0.1, min: 0, max: 1, doc: 'each retry delay is scaled by a random factor in [1 - jitter, 1 + jitter]' },
  WEBHOOK_ALLOW_PRIVATE: { kind: 'bool', default: false, doc: 'allow http:// and private, loopback and link-local addresses for webhook and callback URLs (development and tests only)' },
  WEBHOOK_SECRET_OVERLAP_HOURS: { kind: 'number', default: 24, min: 0, max: 720, doc: 'after a secret rotation the previous secret keeps signing for this long' },
  WEBHOOK_DISABLE_AFTER: {
    kind: 'string', default: '5d', pattern: /^\d+(\.\d+)?(ms|s|m|h|d)$/,
    doc: 'an endpoint whose every attempt has failed for this long is disabled',
  },
  WEBHOOK_POLL_MS: { kind: 'int', default: 250, min: 10, max: 60_000, doc: 'how often webhook workers look for due work when no notification arrives' },
  WEBHOOK_FANOUT_BATCH: { kind: 'int', default: 2000, min: 1, max: 50_000, doc: 'events turned into deliveries per transaction' },
  WEBHOOK_RETENTION_DAYS: { kind: 'int', default: 30, min: 1, max: 3650, doc: 'finished deliveries, their attempts and dispatched events are deleted after this many days' },
  KEY_CACHE_TTL_MS: { kind: 'int', default: 1000, min: 0, max: 60_000, doc: 'an API key read from Postgres is trusted in process this long (0: every request reads it); a key revoked through another control plane stops working within it, through this one at once' },
  KEY_LAST_USED_FLUSH_MS: { kind: 'int', default: 10_000, min: 10, max: 600_000, doc: 'how often the keys\' last_used_at (noted at most once a minute per key) is written, in one statement' },
  JWT_ISSUER: { kind: 'string', default: 'linkplane', doc: 'the `iss` of the access tokens POST /oauth/token issues (your API\'s URL, for instance)' },
  JWT_AUDIENCE: { kind: 'string', default: 'linkplane-api', doc: 'the `aud` of the access tokens; a token for another audience is refused' },
  JWT_TTL_SECONDS: { kind: 'int', default: 900, min: 60, max: 86_400, doc: 'lifetime of an OAuth access token' },
  JWT_KEY_ROTATION_HOURS: { kind: 'number', default: 168, min: 0.01, max: 8760, doc: 'a JWT signing key signs this long, then a new one does; the old one keeps verifying (and stays in the JWKS) until its tokens expired' },
  AUDIT_RETENTION_DAYS: {
    kind: 'int', default: 400, min: 31, max: 36_500,
    doc: 'audit entries (with the client address and user agent they record) are kept at least this many days, then dropped a month at a time',
  },
  CLICK_INGEST: { kind: 'bool', default: true, doc: 'run the click ingest worker (NATS → Postgres) in this process' },
  CLICK_INGEST_BATCH: { kind: 'int', default: 20_000, min: 1, max: 500_000, doc: 'most clicks written in one ingest transaction' },
  CLICK_INGEST_FETCH: { kind: 'int', default: 100, min: 1, max: 10_000, doc: 'click batch messages pulled from JetStream at a time' },
  CLICK_INGEST_CONCURRENCY: { kind: 'int', default: 2, min: 1, max: 32, doc: 'ingest transactions in flight at once in this process' },
  CLICK_INGEST_ACK_WAIT_MS: { kind: 'int', default: 30_000, min: 1_000, max: 3_600_000, doc: 'a click batch not acked this long after delivery (its control plane died) is delivered again' },
  CLICK_ROLLUP_COMPACT_MS: { kind: 'int', default: 5_000, min: 10, max: 600_000, doc: 'how often rollup increments are folded into the hourly rollups (reads see both either way)' },
  CLICK_RETENTION_DAYS: { kind: 'int', default: 90, min: 1, max: 3650, doc: 'raw clicks (and visitor sets) older than this many days are dropped, a day partition at a time; hourly rollups are kept' },
  CLICK_PARTITIONS_AHEAD_DAYS: { kind: 'int', default: 7, min: 1, max: 60, doc: 'day partitions created ahead of time; clicks dated further ahead are rejected as a dead letter' },
  CLICK_STREAM_REPLICAS: { kind: 'int', default: 1, min: 1, max: 5, doc: 'JetStream replicas of the clicks stream (3 on a NATS cluster)' },
  CLICK_STREAM_MAX_AGE_HOURS: { kind: 'number', default: 168, min: 0.01, doc: 'how long click batches wait in JetStream for ingest (e.g. while Postgres is down)' },
  CLICK_STREAM_MAX_MB: { kind: 'int', default: 2048, min: 1, doc: 'largest unconsumed click backlog in JetStream; past it nodes keep clicks in their spools' },
  CLICK_DEDUPE_WINDOW_SECONDS: { kind: 'int', default: 120, min: 1, max: 86_400, doc: 'JetStream stores a re-sent click batch (same Nats-Msg-Id) once within this window; click ids dedupe beyond it' },
  CLICK_EVENTS_SUBSCRIBERS_TTL_MS: { kind: 'int', default: 5_000, min: 0, max: 600_000, doc: 'how long ingest caches which workspaces subscribe to click webhook events' },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    kind: 'url', protocols: ['http', 'https'],
    doc: 'OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`): spans are exported as JSON to `<url>/v1/traces`; unset, nothing is recorded or exported (a caller\'s `traceparent` is still passed on to webhooks and callbacks)',
  },
  OTEL_EXPORTER_OTLP_HEADERS: {
    kind: 'string', secret: true,
    doc: 'headers sent with every export, `key=value,key2=value2` (values URL-encoded), e.g. a hosted backend\'s API key',
  },
  OTEL_SERVICE_NAME: { kind: 'string', default: 'linkplane-control-plane', doc: 'the `service.name` of exported spans' },
  OTEL_TRACES_SAMPLER_ARG: {
    kind: 'number', default: 1, min: 0, max: 1,
    doc: 'share of new traces recorded (parent-based trace-id ratio); a request whose `traceparent` says sampled or not keeps that decision',
  },
  OTEL_BSP_SCHEDULE_DELAY: { kind: 'int', default: 5000, min: 10, max: 600_000, doc: 'ms between span exports (spans are batched; shutdown flushes the rest)' },
} as const satisfies ConfigSchema;

export type ControlPlaneConfig = ConfigOf<typeof controlPlaneSchema>;

export function loadControlPlaneConfig(env?: Record<string, string | undefined>): ControlPlaneConfig {
  const config = loadConfig(controlPlaneSchema, env);
  const trust = parseTrustProxy(config.TRUST_PROXY);
  if ('problem' in trust) throw new ConfigError([trust.problem]);
  const badOrigins = badCorsOrigins(config.CORS_ORIGINS);
  if (badOrigins.length > 0) throw new ConfigError([`CORS_ORIGINS: ${badOrigins.join(', ')} is not an origin (scheme://host[:port], nothing after) nor *`]);
  return config;
}
