import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('API keys, scopes, roles and domain restriction', () => {
  let h: Harness;
  const newKey = async (payload: Record<string, unknown>) => {
    const r = await h.req({ method: 'POST', url: '/v1/keys', payload });
    expect(r.statusCode).toBe(201);
    return r.json() as { id: string; secret: string; scopes: string[]; created_at: string };
  };

  beforeAll(async () => {
    h = await createHarness('auth_keys');
    await createDomain(h, 'a.auth.example.com');
    await createDomain(h, 'b.auth.example.com');
  });
  afterAll(async () => {
    await h.close();
  });

  it('401 without a key, with a malformed header, with an unknown or revoked key', async () => {
    for (const key of [null, 'lp_unknown_key_0000000000000000000000']) {
      const r = await h.req({ method: 'GET', url: '/v1/links', key });
      expect(r.statusCode).toBe(401);
      expect(r.json().error.code).toBe('unauthorized');
    }
    const basic = await h.req({ method: 'GET', url: '/v1/links', key: null, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.statusCode).toBe(401);
    const k = await newKey({ name: 'temp', role: 'read-only' });
    expect((await h.req({ method: 'GET', url: '/v1/links', key: k.secret })).statusCode).toBe(200);
    expect((await h.req({ method: 'DELETE', url: `/v1/keys/${k.id}` })).statusCode).toBe(200);
    expect((await h.req({ method: 'GET', url: '/v1/links', key: k.secret })).statusCode).toBe(401);
  });

  it('secrets are shown once and stored only as a hash', async () => {
    const k = await newKey({ name: 'hash-check', role: 'publisher' });
    expect(k.secret).toMatch(/^lp_[0-9A-Za-z]{40}$/);
    const list = (await h.req({ method: 'GET', url: '/v1/keys' })).json();
    const listed = list.data.find((x: { id: string }) => x.id === k.id);
    expect(listed.secret).toBeUndefined();
    expect(listed.prefix).toBe(k.secret.slice(0, 9));
    const rows = await h.pool.query(`SELECT * FROM api_keys WHERE id = $1`, [k.id]);
    expect(JSON.stringify(rows.rows[0])).not.toContain(k.secret);
  });

  it('403 when a scope is missing; roles map to scopes; scopes can only narrow a role', async () => {
    const analyst = await newKey({ name: 'analyst', role: 'analyst' });
    expect(analyst.scopes.sort()).toEqual(['analytics:read', 'links:read']);
    const w = await h.req({ method: 'POST', url: '/v1/links', key: analyst.secret, payload: { domain: 'a.auth.example.com', destination_url: 'https://example.org/' } });
    expect(w.statusCode).toBe(403);
    expect(w.json().error).toMatchObject({ code: 'insufficient_scope', details: { required: 'links:write' } });
    expect((await h.req({ method: 'GET', url: '/v1/keys', key: analyst.secret })).statusCode).toBe(403);
    const narrowed = await newKey({ name: 'narrow', role: 'publisher', scopes: ['links:read'] });
    expect((await h.req({ method: 'POST', url: '/v1/links', key: narrowed.secret, payload: { domain: 'a.auth.example.com', destination_url: 'https://example.org/' } })).statusCode).toBe(403);
    const widen = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'x', role: 'analyst', scopes: ['keys:admin'] } });
    expect(widen.statusCode).toBe(400);
    expect(widen.json().error.details).toMatchObject({ field: 'scopes', reason: 'not_in_role' });
  });

  it('GET /v1/keys/me: any key reads its own role, scopes and limits (what a client may offer), never its secret', async () => {
    const k = await newKey({ name: 'console analyst', role: 'analyst', domains: ['a.auth.example.com'], rate_limit: { burst: 5, per_second: 1 } });
    const r = await h.req({ method: 'GET', url: '/v1/keys/me', key: k.secret });
    expect(r.statusCode).toBe(200);
    const me = r.json();
    expect(me).toEqual({
      id: k.id, name: 'console analyst', prefix: k.secret.slice(0, 9), role: 'analyst', scopes: k.scopes,
      domains: ['a.auth.example.com'], rate_limit: { burst: 5, per_second: 1 }, created_at: k.created_at, last_used_at: me.last_used_at, expires_at: null,
    });
    expect(JSON.stringify(me)).not.toContain(k.secret);
    expect((await h.req({ method: 'GET', url: '/v1/keys/me' })).json()).toMatchObject({ role: 'admin', domains: null });
    expect((await h.req({ method: 'GET', url: '/v1/keys/me', key: null })).statusCode).toBe(401);
    expect((await h.req({ method: 'DELETE', url: `/v1/keys/${k.id}` })).statusCode).toBe(200);
    expect((await h.req({ method: 'GET', url: '/v1/keys/me', key: k.secret })).statusCode).toBe(401);
  });

  it('a domain-restricted key only sees and writes its domains', async () => {
    const k = await newKey({ name: 'only-a', role: 'publisher', domains: ['A.auth.example.com'] });
    const ok = await h.req({ method: 'POST', url: '/v1/links', key: k.secret, payload: { domain: 'a.auth.example.com', path: 'mine', destination_url: 'https://example.org/a' } });
    expect(ok.statusCode).toBe(201);
    const denied = await h.req({ method: 'POST', url: '/v1/links', key: k.secret, payload: { domain: 'b.auth.example.com', destination_url: 'https://example.org/b' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error).toMatchObject({ code: 'domain_not_allowed', details: { field: 'domain' } });
    const onB = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: 'b.auth.example.com', path: 'theirs', destination_url: 'https://example.org/b' } });
    expect((await h.req({ method: 'GET', url: `/v1/links/${onB.json().id}`, key: k.secret })).statusCode).toBe(404);
    const moved = await h.req({ method: 'PATCH', url: `/v1/links/${ok.json().id}`, key: k.secret, payload: { domain: 'b.auth.example.com' } });
    expect(moved.statusCode).toBe(403);
    const list = (await h.req({ method: 'GET', url: '/v1/links', key: k.secret })).json();
    expect(list.data.map((l: { domain: string }) => l.domain)).toEqual(['a.auth.example.com']);
    const domains = (await h.req({ method: 'GET', url: '/v1/domains', key: k.secret })).json();
    expect(domains.data.map((d: { hostname: string }) => d.hostname)).toEqual(['a.auth.example.com']);
  });

  it('a link\'s domain must belong to the caller\'s workspace', async () => {
    await h.pool.query(`INSERT INTO workspaces (id, name) VALUES ('ws_other', 'other')`);
    const { createKey } = await import('../keys/key-store.js');
    const { secret } = await createKey(h.pool, { workspaceId: 'ws_other', name: 'other admin', role: 'admin' });
    const r = await h.req({ method: 'POST', url: '/v1/links', key: secret, payload: { domain: 'a.auth.example.com', destination_url: 'https://example.org/' } });
    expect(r.statusCode).toBe(403);
    expect(r.json().error.code).toBe('domain_not_allowed');
    const taken = await h.req({ method: 'POST', url: '/v1/domains', key: secret, payload: { hostname: 'a.auth.example.com' } });
    expect(taken.statusCode).toBe(409);
    const others = (await h.req({ method: 'GET', url: '/v1/links', key: secret })).json();
    expect(others.total_estimate).toBe(0);
  });
});

describe('rate limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('rate_limit', { RATE_LIMIT_BURST: '5', RATE_LIMIT_PER_SEC: '1' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('429 with Retry-After and RateLimit headers after the burst; per-key override', async () => {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 7; i++) {
      last = await h.req({ method: 'GET', url: '/v1/links' });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect(last!.headers['retry-after']).toBe('1');
    expect(last!.headers['ratelimit-policy']).toBe('"per-key";q=5;w=5');
    expect(last!.headers.ratelimit).toMatch(/^"per-key";r=0;t=1$/);
    expect(last!.json().error).toMatchObject({ code: 'rate_limited', details: { retry_after: 1, limit: 5, per_second: 1 } });

    // a key with its own limit is not affected by the admin's bucket
    await new Promise((r) => setTimeout(r, 1100));
    const k = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'own', role: 'read-only', rate_limit: { burst: 3, per_second: 0.5 } } });
    const r = await h.req({ method: 'GET', url: '/v1/links', key: k.json().secret });
    expect(r.statusCode).toBe(200);
    expect(r.headers['ratelimit-policy']).toBe('"per-key";q=3;w=6');
  });

  it('health endpoints are not rate limited nor authenticated', async () => {
    for (let i = 0; i < 10; i++) expect((await h.req({ method: 'GET', url: '/healthz', key: null })).statusCode).toBe(200);
  });
});
