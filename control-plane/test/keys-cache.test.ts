/**
 * Issue 17: API keys are resolved from an in-process cache (keys/key-cache.ts) — and a revoked key
 * stops working within the documented bound: at once on the control plane that revoked it, within
 * KEY_CACHE_TTL_MS on another one.
 */
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../shared/index.js';
import { buildApp } from '../app.js';
import { createPool, type Pool } from '../db/pool.js';
import { createHarness, type Harness } from './harness.js';

const OTHER_TTL_MS = 400;

describe('API key cache: revocation bound', () => {
  let h: Harness;
  let other: { app: FastifyInstance; pool: Pool };
  const sent: string[] = [];
  beforeAll(async () => {
    h = await createHarness('keys_cache');
    const pool = createPool(h.db.url, { max: 2 });
    const app = await buildApp({ pool, config: { ...h.config, KEY_CACHE_TTL_MS: OTHER_TTL_MS }, log: createLogger({ name: 'test-other-cp', level: 'silent' }) });
    await app.ready();
    other = { app, pool };
    const original = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const q = args[0] as string | { text?: string; name?: string };
      sent.push(typeof q === 'string' ? q : (q.name ?? q.text ?? '?'));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await other?.app.close();
    await other?.pool.end();
    await h?.close();
  });

  const here = (key: string) => h.req({ method: 'GET', url: '/v1/keys/me', key });
  const there = (key: string) => other.app.inject({ method: 'GET', url: '/v1/keys/me', headers: { authorization: `Bearer ${key}` } });

  it('a key is read from Postgres once per TTL, not per request', async () => {
    const k = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'cached', role: 'read-only' } })).json<{ secret: string }>();
    expect((await here(k.secret)).statusCode).toBe(200);
    sent.length = 0;
    for (let i = 0; i < 5; i++) expect((await here(k.secret)).statusCode).toBe(200);
    expect(sent.filter((s) => s === 'api_key_by_secret')).toHaveLength(0);
  });

  it('revoked here: refused by the next request here; on another control plane within its KEY_CACHE_TTL_MS', async () => {
    const k = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'to-revoke', role: 'read-only' } })).json<{ id: string; secret: string }>();
    expect((await here(k.secret)).statusCode).toBe(200); // cached here
    expect((await there(k.secret)).statusCode).toBe(200); // cached there
    const revokedAt = Date.now();
    expect((await h.req({ method: 'DELETE', url: `/v1/keys/${k.id}` })).statusCode).toBe(200);
    const refusedHere = await here(k.secret);
    expect(refusedHere.statusCode).toBe(401);
    expect(refusedHere.json().error.code).toBe('unauthorized');
    // the other control plane: refused once its copy is older than its TTL, whatever it served before
    let refusedThere = 0;
    while (refusedThere === 0) {
      const r = await there(k.secret);
      if (r.statusCode === 401) refusedThere = Date.now();
      else expect(r.statusCode).toBe(200);
      expect(Date.now() - revokedAt).toBeLessThan(OTHER_TTL_MS + 1000); // the bound, with slack for a loaded machine's request
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await there(k.secret)).statusCode).toBe(401);
  });

  it('revoked in SQL (no control plane told): refused within the TTL', async () => {
    const k = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'sql-revoke', role: 'read-only' } })).json<{ id: string; secret: string }>();
    expect((await there(k.secret)).statusCode).toBe(200);
    await h.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [k.id]);
    await new Promise((r) => setTimeout(r, OTHER_TTL_MS + 50));
    expect((await there(k.secret)).statusCode).toBe(401);
  });
});
