/**
 * /healthz (alive) and /readyz (Postgres and NATS reachable, the JetStream buckets and streams
 * placed; `details` alongside, such as the outbox backlog) on the API port, for load balancers
 * and probes; the same two plus /metrics (Prometheus text) on the operations port (OPS_PORT,
 * shared/ops-server.ts). /metrics is not served on the API port: it is unauthenticated.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { OpsRoutes } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import type { Metrics } from '../metrics.js';

export interface ReadinessProbe {
  name: string;
  /** Absent: the probe only adds `details[name]` and never makes /readyz 503. */
  check?(): Promise<boolean> | boolean;
  /** Shown as `details[name]` (what is wrong, or state worth seeing such as the outbox backlog). */
  detail?(): unknown;
}

export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: Record<string, boolean>;
  details?: Record<string, unknown>;
}

export async function checkReadiness(pool: Pool, probes: ReadinessProbe[]): Promise<Readiness> {
  const checks: Record<string, boolean> = {};
  checks.postgres = await pool.query('SELECT 1').then(() => true, () => false);
  const details: Record<string, unknown> = {};
  for (const p of probes) {
    if (p.check) checks[p.name] = await Promise.resolve(p.check()).catch(() => false);
    if (p.detail) details[p.name] = await Promise.resolve(p.detail()).catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
  }
  const status = Object.values(checks).every(Boolean) ? 'ready' : 'not_ready';
  return Object.keys(details).length > 0 ? { status, checks, details } : { status, checks };
}

export const opsRoutes =
  (pool: Pool, probes: ReadinessProbe[]): FastifyPluginAsync =>
  async (app) => {
    const hidden = { hide: true };
    app.get('/healthz', { config: { public: true }, schema: hidden }, async () => ({ status: 'ok' }));

    app.get('/readyz', { config: { public: true }, schema: hidden }, async (_req, reply) => {
      const r = await checkReadiness(pool, probes);
      return reply.code(r.status === 'ready' ? 200 : 503).send(r);
    });
  };

/** The operations port's answers (same bodies as the API port's probes). */
export function opsPortRoutes(pool: Pool, metrics: Metrics, probes: ReadinessProbe[]): OpsRoutes {
  const json = (status: number, body: unknown) => ({ status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) });
  return {
    '/healthz': () => json(200, { status: 'ok' }),
    '/readyz': async () => {
      const r = await checkReadiness(pool, probes);
      return json(r.status === 'ready' ? 200 : 503, r);
    },
    '/metrics': async () => ({ status: 200, contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  };
}


