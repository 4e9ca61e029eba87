import { commonSchema, loadConfig, type ConfigOf, type ConfigSchema } from '../shared/index.js';

/** Every variable the control plane reads, validated once at start. */
export const controlPlaneSchema = {
  ...commonSchema,
  PORT: { kind: 'int', default: 8080, min: 0, max: 65535, doc: 'HTTP port of the API' },
  HOST: { kind: 'string', default: '127.0.0.1', doc: 'interface the API listens on' },
  DATABASE_URL: {
    kind: 'url', default: 'postgres://postgres@127.0.0.1:5432/linkplane', protocols: ['postgres', 'postgresql'],
    doc: 'Postgres connection URL (the database is created if missing)',
  },
  DB_POOL_MAX: { kind: 'int', default: 20, min: 2, max: 500, doc: 'Postgres pool size' },
  BOOTSTRAP_ADMIN_KEY: {
    kind: 'string', secret: true, pattern: /^\S{24,200}$/,
    doc: 'if set and no API key exists yet: create an admin key with this secret in workspace `default`',
  },
  SHORT_URL_SCHEME: { kind: 'string', default: 'https', oneOf: ['http', 'https'], doc: 'scheme of generated short URLs' },
  RATE_LIMIT_BURST: { kind: 'int', default: 200, min: 1, doc: 'token bucket size per API key (override per key)' },
  RATE_LIMIT_PER_SEC: { kind: 'number', default: 20, min: 0.001, doc: 'sustained requests/s per API key (override per key)' },
  BODY_LIMIT_BYTES: { kind: 'int', default: 1_048_576, min: 1024, doc: 'largest JSON body accepted (413 above)' },
  TRUST_PROXY: { kind: 'bool', default: false, doc: 'trust X-Forwarded-For for the client IP in audit logs' },
  RELAY_BATCH: { kind: 'int', default: 5000, min: 1, max: 100_000, doc: 'outbox rows the relay publishes per round' },
  KV_REPLICAS: { kind: 'int', default: 1, min: 1, max: 5, doc: 'JetStream replicas of the links bucket (3 on a NATS cluster)' },
  RELAY_POLL_MS: { kind: 'int', default: 500, min: 10, doc: 'relay poll interval when no notification arrives' },
} as const satisfies ConfigSchema;

export type ControlPlaneConfig = ConfigOf<typeof controlPlaneSchema>;

export function loadControlPlaneConfig(env?: Record<string, string | undefined>): ControlPlaneConfig {
  return loadConfig(controlPlaneSchema, env);
}
