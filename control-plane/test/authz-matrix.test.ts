/**
 * The authorization matrix (issue 12): every role × domain limit × route, from ONE table.
 *
 * Each row of ROUTES is one route acting on one resource: in domain A, in domain B, or on nothing
 * domain-bound ('-'). A row says which scope the route needs, what it answers on success, and
 * what a key limited to domain A gets when it holds that scope (`limitedToA`). From that, every
 * actor's expected status follows (see `expected`):
 *   - the key lacks the row's scope            → 403 insufficient_scope
 *   - the key is limited to A                  → the row's `limitedToA`
 *   - otherwise (unrestricted, scope held)     → the row's success status
 * Actors: admin, publisher, analyst, read-only, each unrestricted and limited to A (role scopes
 * from keys/roles.ts, created by the bootstrap admin). A new route joins with one row per
 * resource domain. Rows that change state build a fresh resource per call.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLE_SCOPES, ROLES, type Role, type Scope } from '../keys/roles.js';
import { createHarness, type Harness } from './harness.js';

type Limit = 'unrestricted' | 'limited to A';
type Outcome = 'ok' | 403 | 404;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Actor {
  role: Role;
  limit: Limit;
  secret: string;
  id: string;
  /** An OAuth client whose access token is the bearer. */
  jwt?: boolean;
}

/** What the rows act on; built once by the bootstrap admin. */
interface World {
  A: string;
  B: string;
  dom: Record<'A' | 'B', string>;
  link: Record<'A' | 'B', string>;
  job: Record<'A' | 'B', string>;
  endpoint: string;
  delivery: string;
  /** A fresh resource per call (for rows that change or delete it). */
  fresh: {
    link(on: 'A' | 'B'): Promise<string>;
    /** A link waiting for review, made by the bootstrap admin (so no actor is its requester). */
    pendingLink(on: 'A' | 'B'): Promise<string>;
    domain(): Promise<string>;
    key(on: 'A' | 'B'): Promise<string>;
    client(on: 'A' | 'B'): Promise<string>;
    job(on: 'A' | 'B'): Promise<string>;
    endpoint(): Promise<string>;
  };
}

interface Call {
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
}

interface RouteCase {
  family: string;
  method: Method;
  route: string;
  /** The scope the route needs (null: any valid key). */
  scope: Scope | null;
  /** The domain of the resource acted on; '-' = none (lists, workspace-wide resources). */
  on: 'A' | 'B' | '-';
  /** What a key limited to domain A gets when it holds the scope. */
  limitedToA: Outcome;
  /** The success status. */
  ok: number;
  call(w: World, actor: Actor): Promise<Call> | Call;
  /** Why the row does not run yet (it is kept so that it runs once its fix lands). */
  pending?: string;
}

const row = (
  family: string, method: Method, route: string, scope: Scope | null, on: RouteCase['on'], limitedToA: Outcome, ok: number,
  call: RouteCase['call'], pending?: string,
): RouteCase => ({ family, method, route, scope, on, limitedToA, ok, call, pending });

const json = (payload: unknown) => ({ payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
const uniq = () => Math.random().toString(36).slice(2, 10);

// family        method    route                                       scope             on   limited to A  ok
const ROUTES: RouteCase[] = [
  row('keys', 'POST', '/v1/keys', 'keys:admin', 'A', 'ok', 201, (w) => ({ url: '/v1/keys', payload: { name: 'm', role: 'read-only', domains: [w.A] } })),
  row('keys', 'POST', '/v1/keys', 'keys:admin', 'B', 403, 201, (w) => ({ url: '/v1/keys', payload: { name: 'm', role: 'read-only', domains: [w.B] } })),
  row('keys', 'POST', '/v1/keys', 'keys:admin', '-', 403, 201, () => ({ url: '/v1/keys', payload: { name: 'm', role: 'read-only' } })),
  row('keys', 'GET', '/v1/keys', 'keys:admin', '-', 'ok', 200, () => ({ url: '/v1/keys' })),
  row('keys', 'GET', '/v1/keys/me', null, '-', 'ok', 200, () => ({ url: '/v1/keys/me' })),
  row('keys', 'DELETE', '/v1/keys/:id', 'keys:admin', 'A', 'ok', 200, async (w) => ({ url: `/v1/keys/${await w.fresh.key('A')}` })),
  row('keys', 'DELETE', '/v1/keys/:id', 'keys:admin', 'B', 404, 200, async (w) => ({ url: `/v1/keys/${await w.fresh.key('B')}` })),

  row('domains', 'POST', '/v1/domains', 'links:write', 'B', 403, 201, () => ({ url: '/v1/domains', payload: { hostname: `new-${uniq()}.matrix.example.com` } })),
  row('domains', 'GET', '/v1/domains', 'links:read', '-', 'ok', 200, () => ({ url: '/v1/domains' })),
  row('domains', 'GET', '/v1/domains/:id', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/domains/${w.dom.A}` })),
  row('domains', 'GET', '/v1/domains/:id', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/domains/${w.dom.B}` })),
  row('domains', 'PATCH', '/v1/domains/:id', 'links:write', 'A', 'ok', 200, (w) => ({ url: `/v1/domains/${w.dom.A}`, payload: { not_found_url: 'https://example.org/404' } })),
  row('domains', 'PATCH', '/v1/domains/:id', 'links:write', 'B', 404, 200, (w) => ({ url: `/v1/domains/${w.dom.B}`, payload: { not_found_url: 'https://example.org/404' } })),
  row('domains', 'DELETE', '/v1/domains/:id', 'links:write', 'B', 404, 200, async (w) => ({ url: `/v1/domains/${await w.fresh.domain()}` })),

  row('links', 'POST', '/v1/links', 'links:write', 'A', 'ok', 201, (w) => ({ url: '/v1/links', payload: { domain: w.A, destination_url: 'https://example.org/' } })),
  row('links', 'POST', '/v1/links', 'links:write', 'B', 403, 201, (w) => ({ url: '/v1/links', payload: { domain: w.B, destination_url: 'https://example.org/' } })),
  row('links', 'GET', '/v1/links', 'links:read', '-', 'ok', 200, () => ({ url: '/v1/links' })),
  row('links', 'GET', '/v1/links/:id', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/links/${w.link.A}` })),
  row('links', 'GET', '/v1/links/:id', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/links/${w.link.B}` })),
  row('links', 'PATCH', '/v1/links/:id', 'links:write', 'A', 'ok', 200, async (w) => ({ url: `/v1/links/${await w.fresh.link('A')}`, payload: { destination_url: 'https://example.org/new' } })),
  row('links', 'PATCH', '/v1/links/:id', 'links:write', 'B', 404, 200, async (w) => ({ url: `/v1/links/${await w.fresh.link('B')}`, payload: { destination_url: 'https://example.org/new' } })),
  row('links', 'DELETE', '/v1/links/:id', 'links:write', 'A', 'ok', 200, async (w) => ({ url: `/v1/links/${await w.fresh.link('A')}` })),
  row('links', 'DELETE', '/v1/links/:id', 'links:write', 'B', 404, 200, async (w) => ({ url: `/v1/links/${await w.fresh.link('B')}` })),
  row('links', 'POST', '/v1/links/:id/approve', 'links:approve', 'A', 'ok', 200, async (w) => ({ url: `/v1/links/${await w.fresh.pendingLink('A')}/approve` })),
  row('links', 'POST', '/v1/links/:id/approve', 'links:approve', 'B', 404, 200, async (w) => ({ url: `/v1/links/${await w.fresh.pendingLink('B')}/approve` })),
  row('links', 'POST', '/v1/links/:id/reject', 'links:approve', 'A', 'ok', 200, async (w) => ({ url: `/v1/links/${await w.fresh.pendingLink('A')}/reject` })),
  row('links', 'POST', '/v1/links/:id/reject', 'links:approve', 'B', 404, 200, async (w) => ({ url: `/v1/links/${await w.fresh.pendingLink('B')}/reject` })),

  // the workspace policy binds every domain: a key limited to domains reads it but may not set it
  row('policies', 'GET', '/v1/policy', 'links:read', '-', 'ok', 200, () => ({ url: '/v1/policy' })),
  row('policies', 'PUT', '/v1/policy', 'policies:write', '-', 403, 200, () => ({ url: '/v1/policy', payload: {} })),
  row('policies', 'POST', '/v1/policy/check', 'policies:write', '-', 'ok', 200, () => ({ url: '/v1/policy/check', payload: { limit: 5 } })),
  row('policies', 'GET', '/v1/domains/:id/policy', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/domains/${w.dom.A}/policy` })),
  row('policies', 'GET', '/v1/domains/:id/policy', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/domains/${w.dom.B}/policy` })),
  row('policies', 'PUT', '/v1/domains/:id/policy', 'policies:write', 'A', 'ok', 200, (w) => ({ url: `/v1/domains/${w.dom.A}/policy`, payload: {} })),
  row('policies', 'PUT', '/v1/domains/:id/policy', 'policies:write', 'B', 404, 200, (w) => ({ url: `/v1/domains/${w.dom.B}/policy`, payload: {} })),

  // a bulk job is accepted whatever its items; each item is checked against the key's domains as it runs
  row('jobs', 'POST', '/v1/links/bulk', 'jobs:write', 'A', 'ok', 202, (w) => ({ url: '/v1/links/bulk', ...json({ operation: 'create', items: [{ domain: w.A, destination_url: 'https://example.org/' }] }) })),
  row('jobs', 'POST', '/v1/links/bulk', 'jobs:write', 'B', 'ok', 202, (w) => ({ url: '/v1/links/bulk', ...json({ operation: 'create', items: [{ domain: w.B, destination_url: 'https://example.org/' }] }) })),
  // a job "in A" is one submitted by a key limited to A; "in B", by a key limited to B
  // a list: a key limited to A sees the jobs of keys limited to A (job-list.test.ts checks which)
  row('jobs', 'GET', '/v1/jobs', 'links:read', '-', 'ok', 200, () => ({ url: '/v1/jobs?status=queued&operation=create&limit=10' })),
  row('jobs', 'GET', '/v1/jobs/:id', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/jobs/${w.job.A}` })),
  row('jobs', 'GET', '/v1/jobs/:id', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/jobs/${w.job.B}` })),
  row('jobs', 'GET', '/v1/jobs/:id/errors', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/jobs/${w.job.A}/errors` })),
  row('jobs', 'GET', '/v1/jobs/:id/errors', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/jobs/${w.job.B}/errors` })),
  row('jobs', 'GET', '/v1/jobs/:id/results', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/jobs/${w.job.A}/results` })),
  row('jobs', 'GET', '/v1/jobs/:id/results', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/jobs/${w.job.B}/results` })),
  row('jobs', 'POST', '/v1/jobs/:id/cancel', 'jobs:write', 'A', 'ok', 200, async (w) => ({ url: `/v1/jobs/${await w.fresh.job('A')}/cancel` })),
  row('jobs', 'POST', '/v1/jobs/:id/cancel', 'jobs:write', 'B', 404, 200, async (w) => ({ url: `/v1/jobs/${await w.fresh.job('B')}/cancel` })),

  row('qr', 'GET', '/v1/links/:id/qr', 'links:read', 'A', 'ok', 200, (w) => ({ url: `/v1/links/${w.link.A}/qr` })),
  row('qr', 'GET', '/v1/links/:id/qr', 'links:read', 'B', 404, 200, (w) => ({ url: `/v1/links/${w.link.B}/qr` })),

  row('analytics', 'GET', '/v1/stats', 'analytics:read', '-', 'ok', 200, () => ({ url: '/v1/stats' })),
  row('analytics', 'GET', '/v1/links/:id/stats', 'analytics:read', 'A', 'ok', 200, (w) => ({ url: `/v1/links/${w.link.A}/stats` })),
  row('analytics', 'GET', '/v1/links/:id/stats', 'analytics:read', 'B', 404, 200, (w) => ({ url: `/v1/links/${w.link.B}/stats` })),
  row('analytics', 'GET', '/v1/links/:id/clicks', 'analytics:read', 'A', 'ok', 200, (w) => ({ url: `/v1/links/${w.link.A}/clicks` })),
  row('analytics', 'GET', '/v1/links/:id/clicks', 'analytics:read', 'B', 404, 200, (w) => ({ url: `/v1/links/${w.link.B}/clicks` })),

  // webhooks carry events of every domain: a key limited to domains may not use them at all
  row('webhooks', 'POST', '/v1/webhooks/endpoints', 'webhooks:write', '-', 403, 201, () => ({ url: '/v1/webhooks/endpoints', payload: { url: 'http://127.0.0.1:9/hook' } })),
  row('webhooks', 'GET', '/v1/webhooks/endpoints', 'webhooks:read', '-', 403, 200, () => ({ url: '/v1/webhooks/endpoints' })),
  row('webhooks', 'GET', '/v1/webhooks/endpoints/:id', 'webhooks:read', '-', 403, 200, (w) => ({ url: `/v1/webhooks/endpoints/${w.endpoint}` })),
  row('webhooks', 'PATCH', '/v1/webhooks/endpoints/:id', 'webhooks:write', '-', 403, 200, (w) => ({ url: `/v1/webhooks/endpoints/${w.endpoint}`, payload: { description: 'x' } })),
  row('webhooks', 'DELETE', '/v1/webhooks/endpoints/:id', 'webhooks:write', '-', 403, 200, async (w) => ({ url: `/v1/webhooks/endpoints/${await w.fresh.endpoint()}` })),
  row('webhooks', 'POST', '/v1/webhooks/endpoints/:id/secrets/rotate', 'webhooks:write', '-', 403, 200, (w) => ({ url: `/v1/webhooks/endpoints/${w.endpoint}/secrets/rotate`, payload: {} })),
  row('webhooks', 'POST', '/v1/webhooks/endpoints/:id/test', 'webhooks:write', '-', 403, 202, (w) => ({ url: `/v1/webhooks/endpoints/${w.endpoint}/test`, payload: {} })),
  row('webhooks', 'POST', '/v1/webhooks/endpoints/:id/replay', 'webhooks:write', '-', 403, 202, (w) => ({ url: `/v1/webhooks/endpoints/${w.endpoint}/replay`, payload: {} })),
  // the catalog is static (no workspace data): a key limited to some domains may read it
  row('webhooks', 'GET', '/v1/webhooks/event-types', 'webhooks:read', '-', 'ok', 200, () => ({ url: '/v1/webhooks/event-types' })),
  row('webhooks', 'GET', '/v1/webhooks/deliveries', 'webhooks:read', '-', 403, 200, () => ({ url: '/v1/webhooks/deliveries' })),
  row('webhooks', 'GET', '/v1/webhooks/deliveries/:id', 'webhooks:read', '-', 403, 200, (w) => ({ url: `/v1/webhooks/deliveries/${w.delivery}` })),
  row('webhooks', 'POST', '/v1/webhooks/deliveries/:id/replay', 'webhooks:write', '-', 403, 202, (w) => ({ url: `/v1/webhooks/deliveries/${w.delivery}/replay`, payload: {} })),

  // the audit trail covers every domain: a key limited to domains may not read it
  row('audit', 'GET', '/v1/audit', 'audit:read', '-', 403, 200, () => ({ url: '/v1/audit?limit=5' })),
  row('audit', 'GET', '/v1/audit-log', 'audit:read', '-', 403, 200, () => ({ url: '/v1/audit-log?limit=5' })),

  row('oauth', 'POST', '/v1/oauth/clients', 'keys:admin', 'A', 'ok', 201, (w) => ({ url: '/v1/oauth/clients', payload: { name: 'm', role: 'read-only', domains: [w.A] } })),
  row('oauth', 'POST', '/v1/oauth/clients', 'keys:admin', 'B', 403, 201, (w) => ({ url: '/v1/oauth/clients', payload: { name: 'm', role: 'read-only', domains: [w.B] } })),
  row('oauth', 'POST', '/v1/oauth/clients', 'keys:admin', '-', 403, 201, () => ({ url: '/v1/oauth/clients', payload: { name: 'm', role: 'read-only' } })),
  row('oauth', 'GET', '/v1/oauth/clients', 'keys:admin', '-', 'ok', 200, () => ({ url: '/v1/oauth/clients' })),
  row('oauth', 'DELETE', '/v1/oauth/clients/:id', 'keys:admin', 'A', 'ok', 200, async (w) => ({ url: `/v1/oauth/clients/${await w.fresh.client('A')}` })),
  row('oauth', 'DELETE', '/v1/oauth/clients/:id', 'keys:admin', 'B', 404, 200, async (w) => ({ url: `/v1/oauth/clients/${await w.fresh.client('B')}` })),

  // workspaces are the platform's: no workspace role holds `system` (only the bootstrap key does; workspaces.test.ts)
  row('workspaces', 'POST', '/v1/workspaces', 'system', '-', 403, 201, () => ({ url: '/v1/workspaces', payload: { name: `matrix-${uniq()}` } })),
  row('workspaces', 'GET', '/v1/workspaces', 'system', '-', 403, 200, () => ({ url: '/v1/workspaces' })),
  row('workspaces', 'GET', '/v1/workspaces/:id', 'system', '-', 403, 200, () => ({ url: '/v1/workspaces/ws_default' })),

  // recover needs no scope: every key may recover its own stored responses …
  row('idempotency', 'POST', '/v1/idempotency/recover', null, '-', 'ok', 200, async (_w, actor) => {
    const own = `matrix-${uniq()}`;
    // any stored response will do: the caller's own (404) answer to a recover sent with an Idempotency-Key
    await recoverWithKey(actor, own);
    return { url: '/v1/idempotency/recover', payload: { key: own } };
  }),
  // … and nobody else's (the bootstrap admin's)
  row('idempotency', 'POST', '/v1/idempotency/recover', null, '-', 404, 404, () => ({ url: '/v1/idempotency/recover', payload: { key: ADMIN_IDEMPOTENCY_KEY } })),
];

const ADMIN_IDEMPOTENCY_KEY = 'matrix-admin-record';
let h: Harness;

async function recoverWithKey(actor: Actor, idempotencyKey: string): Promise<void> {
  const r = await h.req({ method: 'POST', url: '/v1/idempotency/recover', key: actor.secret, headers: { 'idempotency-key': idempotencyKey }, payload: { key: `none-${uniq()}` } });
  expect(r.statusCode).toBe(404);
}

/** `status` or `status code`: what `actor` must get from row `r`. */
function expected(r: RouteCase, actor: Actor): string {
  if (r.scope && !ROLE_SCOPES[actor.role].includes(r.scope)) return '403 insufficient_scope';
  const outcome = actor.limit === 'limited to A' ? r.limitedToA : 'ok';
  if (outcome === 'ok') return r.ok >= 400 ? `${r.ok} ${codeFor(r, r.ok)}` : String(r.ok);
  return `${outcome} ${codeFor(r, outcome)}`;
}

describe('authorization matrix: role × domain limit × route', () => {
  const actors: Actor[] = [];
  let w: World;

  /** As the bootstrap admin: the status must be the one given, the body's `id` (or `job_id`) is returned. */
  const make = async (opts: InjectOptions & { key?: string }, status = 201): Promise<string> => {
    const r = await h.req(opts);
    if (r.statusCode !== status) throw new Error(`setup ${opts.method} ${opts.url}: ${r.statusCode} ${r.body}`);
    const body = r.json<{ id?: string; job_id?: string }>();
    return (body.job_id ?? body.id)!;
  };

  beforeAll(async () => {
    h = await createHarness('authz_matrix', { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '10000', WEBHOOK_ALLOW_PRIVATE: 'true' });
    const A = 'a.matrix.example.com';
    const B = 'b.matrix.example.com';
    const dom = { A: await make({ method: 'POST', url: '/v1/domains', payload: { hostname: A } }), B: await make({ method: 'POST', url: '/v1/domains', payload: { hostname: B } }) };
    const host = { A, B };
    const link = (on: 'A' | 'B') => make({ method: 'POST', url: '/v1/links', payload: { domain: host[on], destination_url: 'https://example.org/' } });
    const key = (on: 'A' | 'B', role: Role = 'read-only') =>
      h.req({ method: 'POST', url: '/v1/keys', payload: { name: `fixture ${on}`, role, domains: [host[on]] } }).then((r) => r.json<{ id: string; secret: string }>());
    const submitter = { A: await key('A', 'publisher'), B: await key('B', 'publisher') };
    const job = (on: 'A' | 'B') =>
      make({ method: 'POST', url: '/v1/links/bulk', key: submitter[on].secret, ...json({ operation: 'create', items: [{ domain: host[on], destination_url: 'https://example.org/' }] }) }, 202);
    const endpoint = () => make({ method: 'POST', url: '/v1/webhooks/endpoints', payload: { url: 'http://127.0.0.1:9/hook' } });
    const ep = await endpoint();
    w = {
      A, B, dom,
      link: { A: await link('A'), B: await link('B') },
      job: { A: await job('A'), B: await job('B') },
      endpoint: ep,
      delivery: await make({ method: 'POST', url: `/v1/webhooks/endpoints/${ep}/test`, payload: {} }, 202),
      fresh: {
        link,
        pendingLink: async (on) => {
          // require_approval on the domain for this one create, then off again (the other rows' links stay live)
          await make({ method: 'PUT', url: `/v1/domains/${dom[on]}/policy`, payload: { require_approval: true } }, 200);
          const id = await link(on);
          await make({ method: 'PUT', url: `/v1/domains/${dom[on]}/policy`, payload: {} }, 200);
          return id;
        },
        domain: () => make({ method: 'POST', url: '/v1/domains', payload: { hostname: `gone-${uniq()}.matrix.example.com` } }),
        key: async (on) => (await key(on)).id,
        client: (on) => make({ method: 'POST', url: '/v1/oauth/clients', payload: { name: `fixture ${on}`, role: 'read-only', domains: [host[on]] } }),
        job,
        endpoint,
      },
    };
    await make({ method: 'POST', url: '/v1/idempotency/recover', headers: { 'idempotency-key': ADMIN_IDEMPOTENCY_KEY }, payload: { key: 'none' } }, 404);
    for (const role of ROLES) {
      for (const limit of ['unrestricted', 'limited to A'] as const) {
        const r = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: `${role} ${limit}`, role, domains: limit === 'unrestricted' ? null : [A] } });
        expect(r.statusCode, r.body).toBe(201);
        actors.push({ role, limit, ...r.json<{ id: string; secret: string }>() });
      }
    }
    // the same actors as OAuth clients: their JWT access tokens get exactly what the keys get
    for (const role of ROLES) {
      for (const limit of ['unrestricted', 'limited to A'] as const) {
        const c = await h.req({ method: 'POST', url: '/v1/oauth/clients', payload: { name: `${role} ${limit}`, role, domains: limit === 'unrestricted' ? null : [A] } });
        expect(c.statusCode, c.body).toBe(201);
        const { id, client_id, client_secret } = c.json<{ id: string; client_id: string; client_secret: string }>();
        const t = await h.app.inject({
          method: 'POST', url: '/oauth/token', payload: 'grant_type=client_credentials',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}` },
        });
        expect(t.statusCode, t.body).toBe(200);
        actors.push({ role, limit, id, secret: t.json<{ access_token: string }>().access_token, jwt: true });
      }
    }
  });
  afterAll(async () => {
    await h.close();
  });

  for (const r of ROUTES) {
    const title = `${r.family}: ${r.method} ${r.route} on ${r.on === '-' ? 'the workspace' : `a resource in domain ${r.on}`}`;
    (r.pending ? it.skip : it)(title, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const actor of actors) {
        const c = await r.call(w, actor);
        const res = await h.req({ method: r.method, url: c.url, key: actor.secret, ...(c.payload !== undefined ? { payload: c.payload as InjectOptions['payload'] } : {}), headers: c.headers ?? {} });
        const label = `${actor.role} (${actor.limit}${actor.jwt ? ', JWT' : ''})`;
        got.push(`${label}: ${res.statusCode}${res.statusCode >= 400 ? ` ${res.json<{ error: { code: string } }>().error.code}` : ''}`);
        want.push(`${label}: ${expected(r, actor)}`);
      }
      expect(got).toEqual(want);
    });
  }
});

/** The error code a refusal of a held scope carries: by family (403: the key's limits; 404: hidden or absent). */
function codeFor(r: RouteCase, status: number): string {
  if (status === 403) return r.family === 'keys' || r.family === 'oauth' ? 'privilege_escalation' : 'domain_not_allowed';
  return {
    keys: 'key_not_found', oauth: 'oauth_client_not_found', domains: 'domain_not_found', links: 'link_not_found', qr: 'link_not_found', analytics: 'link_not_found',
    jobs: 'job_not_found', webhooks: 'webhook_endpoint_not_found', idempotency: 'idempotency_key_not_found', policies: 'domain_not_found',
  }[r.family]!;
}
