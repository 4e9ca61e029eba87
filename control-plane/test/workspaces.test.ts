/**
 * Workspaces through the API (issue 16): the platform admin (the bootstrap key, scope `system`)
 * creates two workspaces, each with its first admin key; then the isolation checks — links,
 * domains, keys, webhooks, jobs, analytics, QR, idempotency and audit — run across them both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.js';

interface Tenant {
  id: string;
  secret: string;
  keyId: string;
  host: string;
  domain: string;
  link: string;
  key: string;
  endpoint: string;
  delivery: string;
  job: string;
}

describe('workspaces', () => {
  let h: Harness;
  const tenants: Record<'A' | 'B', Tenant> = {} as Record<'A' | 'B', Tenant>;

  const as = async (key: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const r = await h.req({ method, url, key, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { status: r.statusCode, body: r.json<Record<string, unknown> & { data?: { id: string; resource?: { id: string } }[]; error?: { code: string } }>() };
  };
  const made = async (key: string, url: string, payload: unknown, status = 201): Promise<Record<string, unknown>> => {
    const r = await as(key, 'POST', url, payload);
    if (r.status !== status) throw new Error(`${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };

  beforeAll(async () => {
    h = await createHarness('workspaces', { WEBHOOK_ALLOW_PRIVATE: 'true' });
    for (const name of ['A', 'B'] as const) {
      const ws = await made(h.adminKey, '/v1/workspaces', { name: `tenant-${name}`, admin_key: { name: `${name} admin` } });
      const secret = ws.secret as string;
      const host = `${name.toLowerCase()}.tenants.example.com`;
      const domain = (await made(secret, '/v1/domains', { hostname: host })).id as string;
      const link = (await made(secret, '/v1/links', { domain: host, destination_url: 'https://example.org/' })).id as string;
      const key = (await made(secret, '/v1/keys', { name: 'member', role: 'read-only' })).id as string;
      const endpoint = (await made(secret, '/v1/webhooks/endpoints', { url: 'http://127.0.0.1:9/hook' })).id as string;
      const delivery = (await made(secret, `/v1/webhooks/endpoints/${endpoint}/test`, {}, 202)).id as string;
      const job = (await made(secret, '/v1/links/bulk', { operation: 'create', items: [{ domain: host, destination_url: 'https://example.org/' }] }, 202)).job_id as string;
      await as(secret, 'POST', '/v1/idempotency/recover', { key: 'none' }, { 'idempotency-key': `idem-${name}` });
      tenants[name] = { id: ws.id as string, secret, keyId: (ws.admin_key as { id: string }).id, host, domain, link, key, endpoint, delivery, job };
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the platform admin creates a workspace with its first admin key (secret once), lists and gets them', async () => {
    const r = await h.req({ method: 'POST', url: '/v1/workspaces', payload: { name: 'tenant-C' }, headers: { 'idempotency-key': 'ws-c' } });
    expect(r.statusCode).toBe(201);
    const body = r.json<{ id: string; name: string; admin_key: { id: string; role: string; scopes: string[]; domains: null; name: string }; secret: string }>();
    expect(body).toMatchObject({ id: expect.stringMatching(/^ws_[0-9A-Z]{26}$/), name: 'tenant-C', admin_key: { role: 'admin', domains: null, name: 'admin' }, secret: expect.stringMatching(/^lp_/) });
    expect(body.admin_key.scopes).not.toContain('system');
    expect(body.admin_key.scopes).toContain('audit:read');
    expect(r.headers.location).toBe(`/v1/workspaces/${body.id}`);
    // the new admin works in its workspace, and only there
    const own = await as(body.secret, 'GET', '/v1/keys');
    expect(own.body.data!.map((k) => k.id)).toEqual([body.admin_key.id]);
    // a replay answers the same workspace without the secret
    const replay = await h.req({ method: 'POST', url: '/v1/workspaces', payload: { name: 'tenant-C' }, headers: { 'idempotency-key': 'ws-c' } });
    expect(replay.json()).toMatchObject({ id: body.id, secret: null, redacted: ['secret'] });

    const dup = await as(h.adminKey, 'POST', '/v1/workspaces', { name: 'tenant-C' });
    expect([dup.status, dup.body.error?.code]).toEqual([409, 'workspace_name_taken']);
    expect((await as(h.adminKey, 'POST', '/v1/workspaces', { name: ' padded' })).status).toBe(400);

    const list = await as(h.adminKey, 'GET', '/v1/workspaces?limit=2');
    const page2 = await as(h.adminKey, 'GET', `/v1/workspaces?limit=10&cursor=${list.body.next_cursor as string}`);
    const names = [...list.body.data!, ...page2.body.data!].map((w) => (w as unknown as { name: string }).name).sort();
    expect(names).toEqual(['default', 'tenant-A', 'tenant-B', 'tenant-C']);
    expect((await as(h.adminKey, 'GET', `/v1/workspaces/${body.id}`)).body).toMatchObject({ id: body.id, name: 'tenant-C' });
    const missing = await as(h.adminKey, 'GET', '/v1/workspaces/ws_01J00000000000000000000000');
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'workspace_not_found']);
  });

  it('only the platform scope manages workspaces; no workspace admin can get it', async () => {
    const a = tenants.A.secret;
    const r = await as(a, 'GET', '/v1/workspaces');
    expect([r.status, r.body.error?.code]).toEqual([403, 'insufficient_scope']);
    expect((await as(a, 'POST', '/v1/workspaces', { name: 'sneaky' })).status).toBe(403);
    const grant = await as(a, 'POST', '/v1/keys', { name: 'x', role: 'admin', scopes: ['system'] });
    expect(grant.status).toBe(400);
    // the bootstrap key is invisible to (and not revocable by) an ordinary admin of its own workspace
    const plain = await made(h.adminKey, '/v1/keys', { name: 'plain admin', role: 'admin' });
    const seen = await as(plain.secret as string, 'GET', '/v1/keys?limit=1000');
    expect(seen.body.data!.some((k) => (k as unknown as { name: string }).name === 'bootstrap admin')).toBe(false);
  });

  for (const [me, them] of [['A', 'B'], ['B', 'A']] as const) {
    it(`isolation: workspace ${me} neither sees nor changes anything of workspace ${them}`, async () => {
      const k = tenants[me].secret;
      const t = tenants[them];
      const got: string[] = [];
      const check = async (label: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => {
        const r = await as(k, method, url, payload);
        got.push(`${label}: ${r.status} ${r.body.error?.code ?? ''}`.trim());
      };
      await check('link get', 'GET', `/v1/links/${t.link}`);
      await check('link patch', 'PATCH', `/v1/links/${t.link}`, { destination_url: 'https://evil.example/' });
      await check('link delete', 'DELETE', `/v1/links/${t.link}`);
      await check('link on their domain', 'POST', '/v1/links', { domain: t.host, destination_url: 'https://evil.example/' });
      await check('qr', 'GET', `/v1/links/${t.link}/qr`);
      await check('stats', 'GET', `/v1/links/${t.link}/stats`);
      await check('clicks', 'GET', `/v1/links/${t.link}/clicks`);
      await check('domain get', 'GET', `/v1/domains/${t.domain}`);
      await check('domain patch', 'PATCH', `/v1/domains/${t.domain}`, { not_found_url: 'https://evil.example/' });
      await check('domain delete', 'DELETE', `/v1/domains/${t.domain}`);
      await check('key revoke', 'DELETE', `/v1/keys/${t.key}`);
      await check('admin key revoke', 'DELETE', `/v1/keys/${t.keyId}`);
      await check('endpoint get', 'GET', `/v1/webhooks/endpoints/${t.endpoint}`);
      await check('endpoint patch', 'PATCH', `/v1/webhooks/endpoints/${t.endpoint}`, { description: 'x' });
      await check('endpoint delete', 'DELETE', `/v1/webhooks/endpoints/${t.endpoint}`);
      await check('delivery get', 'GET', `/v1/webhooks/deliveries/${t.delivery}`);
      await check('delivery replay', 'POST', `/v1/webhooks/deliveries/${t.delivery}/replay`, {});
      await check('job get', 'GET', `/v1/jobs/${t.job}`);
      await check('job cancel', 'POST', `/v1/jobs/${t.job}/cancel`);
      await check('recover their response', 'POST', '/v1/idempotency/recover', { key: `idem-${them}` });
      expect(got).toEqual([
        'link get: 404 link_not_found', 'link patch: 404 link_not_found', 'link delete: 404 link_not_found',
        'link on their domain: 403 domain_not_allowed', 'qr: 404 link_not_found', 'stats: 404 link_not_found', 'clicks: 404 link_not_found',
        'domain get: 404 domain_not_found', 'domain patch: 404 domain_not_found', 'domain delete: 404 domain_not_found',
        'key revoke: 404 key_not_found', 'admin key revoke: 404 key_not_found',
        'endpoint get: 404 webhook_endpoint_not_found', 'endpoint patch: 404 webhook_endpoint_not_found', 'endpoint delete: 404 webhook_endpoint_not_found',
        'delivery get: 404 webhook_delivery_not_found', 'delivery replay: 404 webhook_delivery_not_found',
        'job get: 404 job_not_found', 'job cancel: 404 job_not_found', 'recover their response: 404 idempotency_key_not_found',
      ]);

      // lists hold only their own
      const theirs = new Set([t.link, t.domain, t.key, t.keyId, t.endpoint, t.delivery, t.job, t.id]);
      for (const url of ['/v1/links?limit=1000', '/v1/domains?limit=1000', '/v1/keys?limit=1000', '/v1/webhooks/endpoints?limit=200', '/v1/webhooks/deliveries?limit=200', '/v1/jobs?limit=100', '/v1/audit?limit=1000']) {
        const r = await as(k, 'GET', url);
        expect(r.status, url).toBe(200);
        const ids = r.body.data!.flatMap((x) => [x.id, x.resource?.id, (x as unknown as { job_id?: string }).job_id]);
        expect(ids.filter((id) => id && theirs.has(id)), url).toEqual([]);
        expect(r.body.data!.length, `${url} has ${me}'s own`).toBeGreaterThan(0);
      }
      // workspace stats count only their own (no clicks anywhere: zero, not an error)
      const stats = await as(k, 'GET', '/v1/stats');
      expect(stats.status).toBe(200);
      // their things are untouched
      expect((await as(t.secret, 'GET', `/v1/links/${t.link}`)).body).toMatchObject({ id: t.link, destination_url: 'https://example.org/' });
      expect((await as(t.secret, 'GET', `/v1/webhooks/endpoints/${t.endpoint}`)).status).toBe(200);
    });
  }
});
