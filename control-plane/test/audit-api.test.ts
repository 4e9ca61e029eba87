/**
 * The audit trail (issue 16): every mutating route writes exactly its entry — who (key id and
 * name), what (action, resource, changes, never a secret), when, from where (client address,
 * user agent) and the request id — driven by one table that must name every mutating route of
 * the OpenAPI document. Then the read API (filters, paging, access), append-only, retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropExpiredAuditPartitions, ensureAuditPartitions } from '../audit/index.js';
import { createDomain, createHarness, type Harness } from './harness.js';

interface Entry {
  id: string;
  at: string;
  action: string;
  resource: { type: string; id: string };
  actor: { type: string; id: string; name: string | null };
  request: { id: string | null; client_address: string | null; user_agent: string | null };
  changes: Record<string, unknown> | null;
}

interface Fixture {
  host: string;
  fresh: {
    link(): Promise<string>;
    /** A link waiting for review, made by another key than the admin that decides on it. */
    pendingLink(): Promise<string>;
    domain(): Promise<string>;
    key(): Promise<string>;
    client(): Promise<string>;
    job(): Promise<string>;
    endpoint(): Promise<string>;
    delivery(): Promise<string>;
  };
}

interface Sent {
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  key?: string;
}

interface AuditCase {
  route: string;
  send(f: Fixture): Promise<Sent>;
  /** The entry the call must write; `id` is the resource id (from the response body when absent). */
  expect?: { action: string; type: string; id?: (body: Record<string, unknown>, sent: Sent) => string; changes?: Record<string, unknown> };
  /** Why the route writes no entry (it changes nothing of the workspace's configuration). */
  none?: string;
}

const idOf = (body: Record<string, unknown>) => String(body.job_id ?? body.id);
const idInUrl = (_b: Record<string, unknown>, sent: Sent) => /\/((?:ln|dom|key|job|whe|whd|ws|oac)_[0-9A-Z]{26})/.exec(sent.url)![1]!;
const uniq = () => Math.random().toString(36).slice(2, 10);
/** The admin's workspace (the workspace policy's resource id), read in beforeAll. */
let workspaceId = '';

export const AUDIT_CASES: AuditCase[] = [
  { route: 'POST /v1/keys', send: async (f) => ({ method: 'POST', url: '/v1/keys', payload: { name: 'audited', role: 'analyst', domains: [f.host] } }),
    expect: { action: 'key.create', type: 'key', changes: { after: expect.objectContaining({ name: 'audited', role: 'analyst', scopes: ['links:read', 'analytics:read'] }) } } },
  { route: 'DELETE /v1/keys/{id}', send: async (f) => ({ method: 'DELETE', url: `/v1/keys/${await f.fresh.key()}` }),
    expect: { action: 'key.revoke', type: 'key', changes: { before: { revoked_at: null }, after: { revoked_at: expect.any(String) } } } },
  { route: 'POST /v1/domains', send: async () => ({ method: 'POST', url: '/v1/domains', payload: { hostname: `a-${uniq()}.audit.example.com` } }),
    expect: { action: 'domain.create', type: 'domain' } },
  { route: 'PATCH /v1/domains/{id}', send: async (f) => ({ method: 'PATCH', url: `/v1/domains/${await f.fresh.domain()}`, payload: { not_found_url: 'https://example.org/404' } }),
    expect: { action: 'domain.update', type: 'domain' } },
  { route: 'DELETE /v1/domains/{id}', send: async (f) => ({ method: 'DELETE', url: `/v1/domains/${await f.fresh.domain()}` }),
    expect: { action: 'domain.delete', type: 'domain' } },
  { route: 'POST /v1/links', send: async (f) => ({ method: 'POST', url: '/v1/links', payload: { domain: f.host, destination_url: 'https://example.org/a' } }),
    expect: { action: 'link.create', type: 'link' } },
  { route: 'PATCH /v1/links/{id}', send: async (f) => ({ method: 'PATCH', url: `/v1/links/${await f.fresh.link()}`, payload: { destination_url: 'https://example.org/b' } }),
    expect: { action: 'link.update', type: 'link' } },
  { route: 'DELETE /v1/links/{id}', send: async (f) => ({ method: 'DELETE', url: `/v1/links/${await f.fresh.link()}` }),
    expect: { action: 'link.delete', type: 'link' } },
  { route: 'POST /v1/links/{id}/approve', send: async (f) => ({ method: 'POST', url: `/v1/links/${await f.fresh.pendingLink()}/approve` }),
    expect: { action: 'link.approve', type: 'link', changes: { requested_by: expect.stringMatching(/^key_/) } } },
  { route: 'POST /v1/links/{id}/reject', send: async (f) => ({ method: 'POST', url: `/v1/links/${await f.fresh.pendingLink()}/reject` }),
    expect: { action: 'link.reject', type: 'link', changes: { requested_by: expect.stringMatching(/^key_/) } } },
  { route: 'PUT /v1/policy', send: async () => ({ method: 'PUT', url: '/v1/policy', payload: { banned_path_words: ['audited'] } }),
    expect: { action: 'policy.update', type: 'policy', id: () => workspaceId, changes: { after: expect.objectContaining({ banned_path_words: ['audited'], https_only: false }) } } },
  { route: 'PUT /v1/domains/{id}/policy', send: async (f) => ({ method: 'PUT', url: `/v1/domains/${await f.fresh.domain()}/policy`, payload: { https_only: true } }),
    expect: { action: 'domain_policy.update', type: 'domain', id: idInUrl, changes: { after: { https_only: true } } } },
  { route: 'POST /v1/policy/check', send: async () => ({ method: 'POST', url: '/v1/policy/check', payload: { policy: { https_only: true } } }),
    none: 'reports which links would break a policy; changes nothing' },
  { route: 'POST /v1/links/bulk', send: async (f) => ({ method: 'POST', url: '/v1/links/bulk', payload: { operation: 'create', items: [{ domain: f.host, destination_url: 'https://example.org/' }] } }),
    expect: { action: 'job.create', type: 'job', changes: { operation: 'create', total: 1 } } },
  { route: 'POST /v1/jobs/{id}/cancel', send: async (f) => ({ method: 'POST', url: `/v1/jobs/${await f.fresh.job()}/cancel` }),
    expect: { action: 'job.cancel', type: 'job', id: idInUrl } },
  { route: 'POST /v1/webhooks/endpoints', send: async () => ({ method: 'POST', url: '/v1/webhooks/endpoints', payload: { url: 'http://127.0.0.1:9/audit', description: 'audited' } }),
    expect: { action: 'webhook.endpoint.create', type: 'webhook_endpoint', changes: { after: { url: 'http://127.0.0.1:9/audit', event_types: ['*'], description: 'audited' } } } },
  { route: 'PATCH /v1/webhooks/endpoints/{id}', send: async (f) => ({ method: 'PATCH', url: `/v1/webhooks/endpoints/${await f.fresh.endpoint()}`, payload: { description: 'renamed', enabled: false } }),
    expect: { action: 'webhook.endpoint.update', type: 'webhook_endpoint', changes: { before: { description: null, enabled: true }, after: { description: 'renamed', enabled: false } } } },
  { route: 'DELETE /v1/webhooks/endpoints/{id}', send: async (f) => ({ method: 'DELETE', url: `/v1/webhooks/endpoints/${await f.fresh.endpoint()}` }),
    expect: { action: 'webhook.endpoint.delete', type: 'webhook_endpoint', changes: { before: { url: 'http://127.0.0.1:9/hook', enabled: true } } } },
  { route: 'POST /v1/webhooks/endpoints/{id}/secrets/rotate', send: async (f) => ({ method: 'POST', url: `/v1/webhooks/endpoints/${await f.fresh.endpoint()}/secrets/rotate`, payload: { overlap_hours: 2 } }),
    expect: { action: 'webhook.endpoint.rotate_secret', type: 'webhook_endpoint', changes: { after: { secret_key_id: expect.stringMatching(/^whk_/), overlap_hours: 2 } } } },
  { route: 'POST /v1/webhooks/endpoints/{id}/test', send: async (f) => ({ method: 'POST', url: `/v1/webhooks/endpoints/${await f.fresh.endpoint()}/test`, payload: {} }),
    expect: { action: 'webhook.endpoint.test', type: 'webhook_endpoint', id: idInUrl, changes: { after: { delivery_id: expect.stringMatching(/^whd_/) } } } },
  { route: 'POST /v1/webhooks/endpoints/{id}/replay', send: async (f) => ({ method: 'POST', url: `/v1/webhooks/endpoints/${await f.fresh.endpoint()}/replay`, payload: {} }),
    expect: { action: 'webhook.endpoint.replay', type: 'webhook_endpoint', id: idInUrl, changes: { after: expect.objectContaining({ statuses: ['dead'], replayed: 0 }) } } },
  { route: 'POST /v1/webhooks/deliveries/{id}/replay', send: async (f) => ({ method: 'POST', url: `/v1/webhooks/deliveries/${await f.fresh.delivery()}/replay`, payload: {} }),
    expect: { action: 'webhook.delivery.replay', type: 'webhook_delivery', changes: { after: { endpoint_id: expect.stringMatching(/^whe_/) } } } },
  { route: 'POST /v1/workspaces', send: async () => ({ method: 'POST', url: '/v1/workspaces', payload: { name: `audited-${uniq()}` } }),
    expect: { action: 'workspace.create', type: 'workspace', changes: { after: { name: expect.stringMatching(/^audited-/), admin_key_id: expect.stringMatching(/^key_/) } } } },
  { route: 'POST /v1/oauth/clients', send: async (f) => ({ method: 'POST', url: '/v1/oauth/clients', payload: { name: 'audited client', role: 'analyst', domains: [f.host] } }),
    expect: { action: 'oauth_client.create', type: 'oauth_client', changes: { after: expect.objectContaining({ name: 'audited client', role: 'analyst', scopes: ['links:read', 'analytics:read'] }) } } },
  { route: 'DELETE /v1/oauth/clients/{id}', send: async (f) => ({ method: 'DELETE', url: `/v1/oauth/clients/${await f.fresh.client()}` }),
    expect: { action: 'oauth_client.revoke', type: 'oauth_client', changes: { before: { revoked_at: null }, after: { revoked_at: expect.any(String) } } } },
  { route: 'POST /oauth/token', send: async () => ({ method: 'POST', url: '/oauth/token', payload: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    none: 'issues a short-lived token; stores nothing (clients are audited when created and revoked)' },
  { route: 'POST /v1/idempotency/recover', send: async () => ({ method: 'POST', url: '/v1/idempotency/recover', payload: { key: 'nothing-stored' } }),
    none: 'reads a stored response back; changes nothing' },
];

describe('audit trail', () => {
  let h: Harness;
  let f: Fixture;
  let adminKeyId: string;

  const make = async (method: 'POST', url: string, payload: unknown, status = 201): Promise<string> => {
    const r = await h.req({ method, url, payload: payload as object });
    if (r.statusCode !== status) throw new Error(`setup ${method} ${url}: ${r.statusCode} ${r.body}`);
    return idOf(r.json());
  };
  const audit = async (query: string, key?: string) => {
    const r = await h.req({ method: 'GET', url: `/v1/audit${query}`, ...(key ? { key } : {}) });
    return { status: r.statusCode, body: r.json<{ data: Entry[]; next_cursor: string | null; error?: { code: string } }>() };
  };

  beforeAll(async () => {
    h = await createHarness('audit_api', { WEBHOOK_ALLOW_PRIVATE: 'true', RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '10000' });
    const host = await createDomain(h, 'audit.example.com');
    const reviewHost = await createDomain(h, 'review.audit.example.com');
    const reviewDomain = (await h.pool.query<{ id: string }>('SELECT id FROM domains WHERE hostname = $1', [reviewHost])).rows[0]!.id;
    expect((await h.req({ method: 'PUT', url: `/v1/domains/${reviewDomain}/policy`, payload: { require_approval: true } })).statusCode).toBe(200);
    const publisher = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'publisher', role: 'publisher' } })).json<{ secret: string }>();
    const endpoint = () => make('POST', '/v1/webhooks/endpoints', { url: 'http://127.0.0.1:9/hook' });
    f = {
      host,
      fresh: {
        link: () => make('POST', '/v1/links', { domain: host, destination_url: 'https://example.org/' }),
        pendingLink: async () => {
          const r = await h.req({ method: 'POST', url: '/v1/links', key: publisher.secret, payload: { domain: reviewHost, destination_url: 'https://example.org/' } });
          if (r.statusCode !== 201) throw new Error(`pending link: ${r.statusCode} ${r.body}`);
          return r.json<{ id: string }>().id;
        },
        domain: () => make('POST', '/v1/domains', { hostname: `f-${uniq()}.audit.example.com` }),
        key: () => make('POST', '/v1/keys', { name: 'to revoke', role: 'read-only' }),
        client: () => make('POST', '/v1/oauth/clients', { name: 'to revoke', role: 'read-only' }),
        job: () => make('POST', '/v1/links/bulk', { operation: 'create', items: [{ domain: host, destination_url: 'https://example.org/' }] }, 202),
        endpoint,
        delivery: async () => make('POST', `/v1/webhooks/endpoints/${await endpoint()}/test`, {}, 202),
      },
    };
    const { rows } = await h.pool.query<{ id: string }>(`SELECT id FROM api_keys WHERE name = 'bootstrap admin'`);
    adminKeyId = rows[0]!.id;
    workspaceId = (await h.pool.query<{ workspace_id: string }>('SELECT workspace_id FROM api_keys WHERE id = $1', [adminKeyId])).rows[0]!.workspace_id;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the table names every mutating route of the OpenAPI document', async () => {
    const doc = (await h.req({ method: 'GET', url: '/v1/openapi.json', key: null })).json<{ paths: Record<string, Record<string, unknown>> }>();
    const mutating = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).filter((m) => ['post', 'put', 'patch', 'delete'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
    expect(mutating.filter((r) => !AUDIT_CASES.some((c) => c.route === r)).sort(), 'mutating routes without a row in AUDIT_CASES').toEqual([]);
  });

  for (const c of AUDIT_CASES) {
    it(`${c.route} → ${c.expect ? c.expect.action : `no entry (${c.none})`}`, async () => {
      const sent = await c.send(f);
      const requestId = `audit-${uniq()}`;
      const res = await h.req({
        method: sent.method, url: sent.url, ...(sent.payload !== undefined ? { payload: sent.payload as object } : {}),
        remoteAddress: '203.0.113.7', headers: { 'user-agent': 'audit-test/1.0', 'x-request-id': requestId, ...sent.headers },
      });
      if (c.none) {
        expect(res.statusCode).toBeLessThan(500);
      } else {
        expect(res.statusCode, res.body).toBeLessThan(300);
      }
      const { rows } = await h.pool.query<{ id: string }>('SELECT id FROM audit_log WHERE request_id = $1', [requestId]);
      if (!c.expect) {
        expect(rows).toEqual([]);
        return;
      }
      expect(rows.length, 'exactly one entry').toBe(1);
      const body = res.json<Record<string, unknown>>();
      const resourceId = (c.expect.id ?? idOf)(body, sent);
      const list = await audit(`?resource_type=${c.expect.type}&resource_id=${resourceId}&action=${c.expect.action}`);
      expect(list.status).toBe(200);
      const entry = list.body.data.find((e) => e.request.id === requestId)!;
      expect(entry).toEqual({
        id: rows[0]!.id,
        at: expect.any(String),
        action: c.expect.action,
        resource: { type: c.expect.type, id: resourceId },
        actor: { type: 'api_key', id: adminKeyId, name: 'bootstrap admin' },
        request: { id: requestId, client_address: '203.0.113.7', user_agent: 'audit-test/1.0' },
        changes: c.expect.changes ? expect.objectContaining(c.expect.changes) : expect.anything(),
      });
      expect(Math.abs(Date.parse(entry.at) - Date.now())).toBeLessThan(5 * 60_000);
      // no secret the response showed (a key's, an endpoint's signing secret) is in the entry
      const raw = JSON.stringify(entry);
      for (const v of [body.secret, body.callback_secret, body.client_secret]) if (typeof v === 'string') expect(raw).not.toContain(v);
      expect(raw).not.toContain(h.adminKey);
    });
  }

  it('secret fields are redacted whatever a caller records', async () => {
    const { scrubSecrets } = await import('../audit/index.js');
    expect(scrubSecrets({ after: { secret: 'x', callback_secret: 'y', secret_key_id: 'whk_1', nested: [{ client_secret: 'z', token: 't' }], v: 'lp_abcdefghijklmnopqrstuvwxyz0123456789ABCD' } }))
      .toEqual({ after: { secret: '[redacted]', callback_secret: '[redacted]', secret_key_id: 'whk_1', nested: [{ client_secret: '[redacted]', token: '[redacted]' }], v: '[redacted]' } });
  });

  it('filters by actor, action and time, and pages with a cursor, newest first', async () => {
    const created = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'second admin', role: 'admin' } });
    const second = created.json<{ id: string; secret: string }>();
    for (let i = 0; i < 3; i++) {
      const r = await h.req({ method: 'POST', url: '/v1/links', key: second.secret, payload: { domain: f.host, destination_url: `https://example.org/p${i}` } });
      expect(r.statusCode).toBe(201);
    }
    const mine = await audit(`?actor_key_id=${second.id}`);
    expect(mine.body.data.map((e) => [e.action, e.actor.name])).toEqual([['link.create', 'second admin'], ['link.create', 'second admin'], ['link.create', 'second admin']]);
    const ids = mine.body.data.map((e) => e.id);
    expect([...ids].sort().reverse()).toEqual(ids);

    const p1 = await audit(`?actor_key_id=${second.id}&limit=2`);
    expect(p1.body.data.map((e) => e.id)).toEqual(ids.slice(0, 2));
    const p2 = await audit(`?actor_key_id=${second.id}&limit=2&cursor=${p1.body.next_cursor}`);
    expect(p2.body.data.map((e) => e.id)).toEqual(ids.slice(2));
    expect(p2.body.next_cursor).toBeNull();

    const future = await audit(`?actor_key_id=${second.id}&from=2999-01-01`);
    expect(future.body.data).toEqual([]);
    const past = await audit(`?actor_key_id=${second.id}&to=2000-01-01`);
    expect(past.body.data).toEqual([]);
    const now = await audit(`?actor_key_id=${second.id}&from=2000-01-01&to=2999-01-01&action=link.create`);
    expect(now.body.data.length).toBe(3);

    expect((await audit('?from=2026-02-30')).body.error?.code).toBe('validation_failed');
    expect((await audit('?cursor=nope')).body.error?.code).toBe('invalid_cursor');
    expect((await audit('?limit=0')).status).toBe(400);
  });

  it('only keys with audit:read on the whole workspace read it; another workspace sees nothing', async () => {
    const publisher = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'pub', role: 'publisher' } })).json<{ secret: string }>();
    const r1 = await audit('', publisher.secret);
    expect([r1.status, r1.body.error?.code]).toEqual([403, 'insufficient_scope']);
    const limited = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'lim', role: 'admin', domains: [f.host] } })).json<{ secret: string }>();
    const r2 = await audit('', limited.secret);
    expect([r2.status, r2.body.error?.code]).toEqual([403, 'domain_not_allowed']);
    // a key of another workspace reads only its own (empty) trail
    await h.pool.query(`INSERT INTO workspaces (id, name) VALUES ('ws_other_audit', 'other-audit')`);
    const { createKey } = await import('../keys/key-store.js');
    const other = await createKey(h.pool, { workspaceId: 'ws_other_audit', name: 'other', role: 'admin' });
    const r3 = await audit('', other.secret);
    expect([r3.status, r3.body.data]).toEqual([200, []]);
  });

  it('no route changes or deletes an entry: the audit paths are GET only, any other method is 405', async () => {
    const doc = (await h.req({ method: 'GET', url: '/v1/openapi.json', key: null })).json<{ paths: Record<string, Record<string, unknown>> }>();
    const auditPaths = Object.keys(doc.paths).filter((p) => p.startsWith('/v1/audit'));
    expect(auditPaths.length).toBeGreaterThan(0);
    for (const p of auditPaths) expect(Object.keys(doc.paths[p]!).filter((m) => m !== 'parameters'), p).toEqual(['get']);
    const count = async () => (await h.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log')).rows[0]!.n;
    const before = await count();
    const { rows } = await h.pool.query<{ id: string }>('SELECT id FROM audit_log ORDER BY id DESC LIMIT 1');
    for (const url of ['/v1/audit', `/v1/audit/${rows[0]!.id}`]) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
        const r = await h.req({ method, url, payload: {} });
        expect([404, 405], `${method} ${url}`).toContain(r.statusCode);
        if (url === '/v1/audit') expect([r.statusCode, r.headers.allow], `${method} ${url}`).toEqual([405, expect.stringContaining('GET')]);
      }
    }
    expect(await count()).toBe(before);
  });

  it('is append-only: UPDATE, DELETE and TRUNCATE are refused, on the table and on a month', async () => {
    const { rows } = await h.pool.query<{ month: string }>(`SELECT tableoid::regclass::text AS month FROM audit_log LIMIT 1`);
    for (const sql of [`UPDATE audit_log SET action = 'x'`, 'DELETE FROM audit_log', 'TRUNCATE audit_log', `TRUNCATE ${rows[0]!.month}`, `DELETE FROM ${rows[0]!.month}`]) {
      await expect(h.pool.query(sql), sql).rejects.toThrow(/audit_log is append-only/);
    }
  });

  it('retention drops whole months past AUDIT_RETENTION_DAYS and keeps the rest', async () => {
    const old = new Date(Date.UTC(2024, 0, 15));
    await h.pool.query('SELECT linkplane_ensure_audit_partition($1)', [old.toISOString()]);
    await h.pool.query(`INSERT INTO audit_log (id, workspace_id, action, resource_type, resource_id, at) VALUES ('aud_01HM0000000000000000000000', 'ws_default', 'link.create', 'link', 'ln_x', $1)`, [old]);
    const before = (await h.pool.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n as number;
    // 400 days before 2025-02-10: 2024-01-06; January 2024 ends after it → kept
    expect(await dropExpiredAuditPartitions(h.pool, 400, new Date(Date.UTC(2025, 1, 10)))).toEqual([]);
    // 400 days before 2025-03-10: 2024-02-04; January 2024 ended → dropped, nothing newer
    expect(await dropExpiredAuditPartitions(h.pool, 400, new Date(Date.UTC(2025, 2, 10)))).toEqual(['audit_log_p202401']);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM audit_log')).rows[0].n).toBe(before - 1);
    // partitions ahead exist for this month and the next two
    await ensureAuditPartitions(h.pool);
    const now = new Date();
    const months = [0, 1, 2].map((i) => {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1));
      return `audit_log_p${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    });
    const { rows } = await h.pool.query<{ n: string }>(`SELECT relname AS n FROM pg_class WHERE relname = ANY($1)`, [months]);
    expect(rows.map((r) => r.n).sort()).toEqual(months);
  });
});
