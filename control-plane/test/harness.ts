/**
 * Integration-test harness for the control plane: a fresh database (migrated), a unique NATS
 * prefix, an app built with real dependencies, and an admin key. `close()` removes all of it.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { LightMyRequestResponse } from 'fastify';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import { createLogger, openLinksBucket } from '../../shared/index.js';
import { cleanupNatsPrefix, createTestDatabase, TEST_NATS_URL, TEST_SECRETS_KEY, testPrefix, type TestDatabase } from '../../shared/testing/index.js';
import { buildApp } from '../app.js';
import { loadControlPlaneConfig, type ControlPlaneConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';
import { bootstrapAdminKey } from '../keys/key-store.js';
import { OutboxRelay } from '../outbox/relay.js';

export const ADMIN_SECRET = 'lp_test_admin_secret_0123456789abcdefghij';
export { TEST_SECRETS_KEY } from '../../shared/testing/index.js';

export interface Harness {
  app: FastifyInstance;
  pool: Pool;
  db: TestDatabase;
  config: ControlPlaneConfig;
  prefix: string;
  adminKey: string;
  /** Lazily connected NATS + links bucket (for relay tests). */
  nats(): Promise<{ nc: NatsConnection; kv: KV }>;
  /** A relay bound to this harness (not started). */
  relay(opts?: { batchSize?: number; pollMs?: number }): Promise<OutboxRelay>;
  /** app.inject with the admin key unless `key` is given (null = no Authorization). */
  req(opts: InjectOptions & { key?: string | null }): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function createHarness(label: string, env: Record<string, string> = {}): Promise<Harness> {
  const db = await createTestDatabase(label);
  const prefix = testPrefix(label);
  const config = loadControlPlaneConfig({ DATABASE_URL: db.url, NATS_PREFIX: prefix, NATS_URL: TEST_NATS_URL, LOG_LEVEL: 'silent', SECRETS_KEY: TEST_SECRETS_KEY, ...env });
  const pool = createPool(db.url, { max: 8 });
  await migrate(pool);
  await bootstrapAdminKey(pool, ADMIN_SECRET);
  const log = createLogger({ name: `test-${label}`, level: process.env.LP_TEST_LOG ?? 'silent' });
  const app = await buildApp({ pool, config, log });
  await app.ready();
  let natsConn: { nc: NatsConnection; kv: KV } | null = null;
  const relays: OutboxRelay[] = [];
  const h: Harness = {
    app,
    pool,
    db,
    config,
    prefix,
    adminKey: ADMIN_SECRET,
    async nats() {
      if (!natsConn) {
        const nc = await connect({ servers: TEST_NATS_URL });
        natsConn = { nc, kv: await openLinksBucket(nc, prefix) };
      }
      return natsConn;
    },
    async relay(opts = {}) {
      const { kv } = await h.nats();
      const r = new OutboxRelay({ pool, kv: async () => kv, log, batchSize: opts.batchSize ?? 1000, pollMs: opts.pollMs ?? 50 });
      relays.push(r);
      return r;
    },
    req({ key, headers, ...opts }) {
      const auth = key === null ? {} : { authorization: `Bearer ${key ?? ADMIN_SECRET}` };
      return app.inject({ ...opts, headers: { ...auth, ...headers } });
    },
    async close() {
      for (const r of relays) await r.stop();
      await app.close();
      await pool.end();
      if (natsConn) await natsConn.nc.close();
      await cleanupNatsPrefix(prefix).catch(() => undefined);
      await db.drop();
    },
  };
  return h;
}

/** Creates a domain and returns its hostname. */
export async function createDomain(h: Harness, hostname = `go-${Math.random().toString(36).slice(2, 8)}.example.com`, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await h.req({ method: 'POST', url: '/v1/domains', payload: { hostname, ...extra } });
  if (r.statusCode !== 201) throw new Error(`domain create failed: ${r.statusCode} ${r.body}`);
  return hostname;
}
