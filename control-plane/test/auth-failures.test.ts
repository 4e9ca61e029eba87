/**
 * Issue 12: failed authentication is rate-limited per client address (no Postgres lookup once
 * the address's bucket is empty), API keys and OAuth client secrets at POST /oauth/token alike
 * (issue 16); 401s say `WWW-Authenticate: Bearer` (RFC 6750), and a valid key's 403s count
 * against its own bucket.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHarness, type Harness } from './harness.js';

const UNKNOWN = 'lp_unknown_key_000000000000000000000000000';

describe('failed authentication is limited per client address', () => {
  let h: Harness;
  const from = (remoteAddress: string, key: string | null, headers: Record<string, string> = {}) =>
    h.req({ method: 'GET', url: '/v1/links', key, remoteAddress, headers });

  beforeAll(async () => {
    h = await createHarness('auth_failures', { AUTH_FAILURE_BURST: '5', AUTH_FAILURE_PER_SEC: '2' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('401 carries WWW-Authenticate: Bearer, with error="invalid_token" when a token was presented', async () => {
    const none = await from('198.51.100.1', null);
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="linkplane"');
    const bad = await from('198.51.100.1', UNKNOWN);
    expect(bad.statusCode).toBe(401);
    expect(bad.headers['www-authenticate']).toMatch(/^Bearer realm="linkplane", error="invalid_token", error_description="[^"]+"$/);
    const basic = await from('198.51.100.1', null, { authorization: 'Basic Zm9vOmJhcg==' });
    expect(basic.headers['www-authenticate']).toBe('Bearer realm="linkplane"');
    const malformed = await from('198.51.100.1', null, { authorization: 'Bearer a b' });
    expect(malformed.headers['www-authenticate']).toMatch(/^Bearer realm="linkplane", error="invalid_request"/);
  });

  it('after the burst of failures an address gets 429 with Retry-After, and costs no key lookup', async () => {
    const x = '203.0.113.7';
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await from(x, UNKNOWN)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const query = vi.spyOn(h.pool, 'query');
    try {
      const limited = await from(x, UNKNOWN);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.headers['ratelimit-policy']).toBe('"auth-failures";q=5;w=3');
      expect(limited.json().error).toMatchObject({ code: 'rate_limited', details: { policy: 'auth-failures', retry_after: 1, limit: 5, per_second: 2 } });
      // a valid key from the same address waits too (its address is the one failing) …
      expect((await from(x, h.adminKey)).statusCode).toBe(429);
      expect(query).not.toHaveBeenCalled();
    } finally {
      query.mockRestore();
    }
    // … but not from another address, where unknown keys still get their 401
    expect((await from('203.0.113.8', h.adminKey)).statusCode).toBe(200);
    expect((await from('203.0.113.8', UNKNOWN)).statusCode).toBe(401);
    // the bucket refills at AUTH_FAILURE_PER_SEC
    await new Promise((r) => setTimeout(r, 600));
    expect((await from(x, h.adminKey)).statusCode).toBe(200);
  });

  it('successful requests do not use up the failure budget', async () => {
    const x = '203.0.113.20';
    for (let i = 0; i < 4; i++) expect((await from(x, UNKNOWN)).statusCode).toBe(401);
    for (let i = 0; i < 10; i++) expect((await from(x, h.adminKey)).statusCode).toBe(200);
    expect((await from(x, UNKNOWN)).statusCode).toBe(401);
    expect((await from(x, UNKNOWN)).statusCode).toBe(429);
  });

  it('IPv6 clients share a bucket per /64', async () => {
    for (let i = 0; i < 5; i++) expect((await from(`2001:db8:1:2::${i + 1}`, UNKNOWN)).statusCode).toBe(401);
    expect((await from('2001:db8:1:2:ffff::9', UNKNOWN)).statusCode).toBe(429);
    expect((await from('2001:db8:1:3::1', UNKNOWN)).statusCode).toBe(401);
  });

  it('X-Forwarded-For is ignored without TRUST_PROXY', async () => {
    const x = '203.0.113.30';
    for (let i = 0; i < 5; i++) await from(x, UNKNOWN, { 'x-forwarded-for': `192.0.2.${i}` });
    expect((await from(x, UNKNOWN, { 'x-forwarded-for': '192.0.2.200' })).statusCode).toBe(429);
  });

  it('a failed POST /oauth/token (wrong secret, unknown client) spends the same budget as a bad API key', async () => {
    const c = await h.req({ method: 'POST', url: '/v1/oauth/clients', payload: { name: 'cms', role: 'publisher' } });
    expect(c.statusCode, c.body).toBe(201);
    const { client_id: id, client_secret: secret } = c.json<{ client_id: string; client_secret: string }>();
    const token = (remoteAddress: string, params: Record<string, string>, headers: Record<string, string> = {}) =>
      h.app.inject({
        method: 'POST', url: '/oauth/token', remoteAddress, payload: new URLSearchParams({ grant_type: 'client_credentials', ...params }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });
    const x = '203.0.113.40';
    const attempts = [
      () => token(x, { client_id: id, client_secret: 'lpc_wrong' }),
      () => token(x, {}, basic(id, 'lpc_wrong')),
      () => token(x, { client_id: 'oac_01ARZ3NDEKTSV4RRFFQ69G5FAV', client_secret: secret }), // unknown client
      () => token(x, { client_id: id }), // no secret
    ];
    const statuses: number[] = [];
    for (const a of attempts) statuses.push((await a()).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401]);
    expect((await from(x, UNKNOWN)).statusCode).toBe(401); // the 5th failure, by an API key
    const query = vi.spyOn(h.pool, 'query');
    try {
      const limited = await token(x, { client_id: id, client_secret: secret }); // even the right secret waits
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      expect(limited.headers['ratelimit-policy']).toBe('"auth-failures";q=5;w=3');
      expect(limited.json().error).toMatchObject({ code: 'rate_limited', details: { policy: 'auth-failures', retry_after: 1 } });
      expect((await from(x, h.adminKey)).statusCode).toBe(429); // and the API, from that address
      expect(query).not.toHaveBeenCalled(); // no client lookup once limited
    } finally {
      query.mockRestore();
    }
    // another address still gets a token; a good token request spends nothing
    const y = '203.0.113.41';
    for (let i = 0; i < 8; i++) expect((await token(y, { client_id: id, client_secret: secret })).statusCode).toBe(200);
    expect((await token(y, { client_id: id, client_secret: 'lpc_wrong' })).statusCode).toBe(401);
    // 400s (a malformed request, not a wrong credential) are not counted
    for (let i = 0; i < 6; i++) expect((await token('203.0.113.42', { client_id: id, client_secret: secret, grant_type: 'password' })).statusCode).toBe(400);
    expect((await token('203.0.113.42', { client_id: id, client_secret: secret })).statusCode).toBe(200);
    // the budget refills at AUTH_FAILURE_PER_SEC
    await new Promise((r) => setTimeout(r, 600));
    expect((await token(x, { client_id: id, client_secret: secret })).statusCode).toBe(200);
  });

  it("a valid key's 403s use up its own rate limit", async () => {
    const k = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'analyst', role: 'analyst', rate_limit: { burst: 2, per_second: 0.01 } } });
    const secret = k.json().secret as string;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await h.req({ method: 'GET', url: '/v1/keys', key: secret })).statusCode);
    expect(statuses).toEqual([403, 403, 429]);
  });

  it('403 insufficient_scope says which scope (RFC 6750)', async () => {
    const k = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'ro', role: 'read-only' } });
    const r = await h.req({ method: 'GET', url: '/v1/keys', key: k.json().secret });
    expect(r.statusCode).toBe(403);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="linkplane", error="insufficient_scope", scope="keys:admin"');
  });
});

describe('failed authentication behind a trusted proxy', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('auth_failures_proxy', { AUTH_FAILURE_BURST: '2', AUTH_FAILURE_PER_SEC: '0.01', TRUST_PROXY: 'true' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('with TRUST_PROXY the client address comes from X-Forwarded-For', async () => {
    const via = (client: string, key: string) =>
      h.req({ method: 'GET', url: '/v1/links', key, remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': client } });
    expect((await via('192.0.2.1', UNKNOWN)).statusCode).toBe(401);
    expect((await via('192.0.2.1', UNKNOWN)).statusCode).toBe(401);
    expect((await via('192.0.2.1', UNKNOWN)).statusCode).toBe(429);
    expect((await via('192.0.2.2', h.adminKey)).statusCode).toBe(200); // same proxy, another client
  });
});

describe('TRUST_PROXY as a hop count or the proxies\' addresses: a forged X-Forwarded-For does not move the client', () => {
  const cases = [
    { trust: '1', label: 'hop count 1' },
    { trust: '10.0.0.0/8', label: 'proxy CIDR' },
  ];
  for (const { trust, label } of cases) {
    it(`${label}: the address our proxy appended is the client, whatever the client wrote before it`, async () => {
      const h = await createHarness(`auth_failures_trust_${trust.replace(/\W/g, '_')}`, { AUTH_FAILURE_BURST: '2', AUTH_FAILURE_PER_SEC: '0.01', TRUST_PROXY: trust });
      try {
        // the attacker (192.0.2.9) writes a new left-most entry each time; the proxy appends the real peer
        const via = (forged: string, key: string) =>
          h.req({ method: 'GET', url: '/v1/links', key, remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': `${forged}, 192.0.2.9` } });
        expect((await via('203.0.113.1', UNKNOWN)).statusCode).toBe(401);
        expect((await via('203.0.113.2', UNKNOWN)).statusCode).toBe(401);
        expect((await via('203.0.113.3', UNKNOWN)).statusCode).toBe(429);
        // another real client behind the same proxy is not affected
        const other = await h.req({ method: 'GET', url: '/v1/links', key: h.adminKey, remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': '192.0.2.10' } });
        expect(other.statusCode).toBe(200);
      } finally {
        await h.close();
      }
    });
  }

  it('a bad TRUST_PROXY stops the start with the value named', async () => {
    const { loadControlPlaneConfig } = await import('../config.js');
    expect(() => loadControlPlaneConfig({ TRUST_PROXY: '10.0.0.0/8,not-an-ip' })).toThrow(/TRUST_PROXY=.*bad: not-an-ip/);
    expect(() => loadControlPlaneConfig({ TRUST_PROXY: '99' })).toThrow(/hop count is at most 32/);
    expect(loadControlPlaneConfig({ TRUST_PROXY: '2001:db8::/32, 10.0.0.1' }).TRUST_PROXY).toBe('2001:db8::/32, 10.0.0.1');
  });
});
