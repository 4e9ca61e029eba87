/**
 * Issue 17: the single-link write statements (link_create_one, link_update_one) are planned once per
 * connection, not on every execution. Postgres plans a prepared statement's first five executions
 * for their parameters, then keeps its generic plan only if the generic plan's estimated cost is not
 * above the custom plans' plus their planning. While the statement probed webhook_endpoints once per
 * event row, the generic plan (10 rows assumed for each unnest, so ten probes) cost 119–127 against
 * 35–51 for a custom one, and this test saw the update statement planned on all 12 executions.
 * Planning that statement costs its backend 0.55–0.8 ms of CPU, executing it with the plan cached
 * 0.11–0.18 ms. Now the workspace's endpoints are read once per statement (a MATERIALIZED CTE) and
 * the generic plan costs 46–54. Counted from pg_prepared_statements on the pool's one connection.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import { buildApp } from '../app.js';
import { createPool, type Pool } from '../db/pool.js';
import { ADMIN_SECRET, createDomain, createHarness, type Harness } from './harness.js';

describe('link writes: planned once per connection', () => {
  let h: Harness;
  let domain: string;
  let cp: { app: FastifyInstance; pool: Pool };
  beforeAll(async () => {
    h = await createHarness('link_write_plans', { KEY_CACHE_TTL_MS: '60000' });
    domain = await createDomain(h, 'go.plans.example.com');
    const pool = createPool(h.db.url, { max: 1 });
    const app = await buildApp({ pool, config: h.config, log: createLogger({ name: 'test-plans-cp', level: 'silent' }) });
    await app.ready();
    cp = { app, pool };
  });
  afterAll(async () => {
    await cp.app.close();
    await cp.pool.end();
    await h.close();
  });

  const call = (method: 'POST' | 'PATCH', url: string, payload: unknown, headers: Record<string, string> = {}) =>
    cp.app.inject({ method, url, payload: payload as never, headers: { authorization: `Bearer ${ADMIN_SECRET}`, ...headers } });

  it('creates and updates use the generic plan after the first five executions', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await call('POST', '/v1/links', { domain, path: `plan-${i}`, destination_url: `https://example.com/p/${i}`, tags: ['a'] }, { 'idempotency-key': `plan-key-${i}` });
      expect(r.statusCode, r.body).toBe(201);
      ids.push(r.json<{ id: string }>().id);
    }
    for (const [i, id] of ids.entries()) {
      const r = await call('PATCH', `/v1/links/${id}`, { destination_url: `https://example.com/q/${i}` });
      expect(r.statusCode, r.body).toBe(200);
    }
    const plans = await cp.pool.query<{ name: string; generic_plans: string; custom_plans: string }>(
      `SELECT name, generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE name IN ('link_create_one', 'link_update_one') ORDER BY name`,
    );
    expect(plans.rows).toEqual([
      { name: 'link_create_one', generic_plans: '7', custom_plans: '5' },
      { name: 'link_update_one', generic_plans: '7', custom_plans: '5' },
    ]);
  });
});
