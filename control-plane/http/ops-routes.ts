/** /healthz (alive), /readyz (Postgres and NATS reachable), /metrics (Prometheus text). */
import type { FastifyPluginAsync } from 'fastify';
import type { Pool } from '../db/pool.js';
import type { Metrics } from '../metrics.js';

export interface ReadinessProbe {
  name: string;
  check(): Promise<boolean> | boolean;
}

export const opsRoutes =
  (pool: Pool, metrics: Metrics, probes: ReadinessProbe[]): FastifyPluginAsync =>
  async (app) => {
    const hidden = { hide: true };
    app.get('/healthz', { config: { public: true }, schema: hidden }, async () => ({ status: 'ok' }));

    app.get('/readyz', { config: { public: true }, schema: hidden }, async (_req, reply) => {
      const checks: Record<string, boolean> = {};
      checks.postgres = await pool.query('SELECT 1').then(() => true, () => false);
      for (const p of probes) checks[p.name] = await Promise.resolve(p.check()).catch(() => false);
      const ready = Object.values(checks).every(Boolean);
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
    });

    app.get('/metrics', { config: { public: true }, schema: hidden }, async (_req, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    });
  };
