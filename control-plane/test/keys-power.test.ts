/**
 * Issue 12: no key creates, sees or revokes a key with more power than itself. Power is the
 * key's scopes, its domain limit, its role (the ceiling of its scopes) and its rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('keys: a key cannot mint, see or revoke a key with more power than itself', () => {
  let h: Harness;
  const A = 'a.power.example.com';
  const B = 'b.power.example.com';
  const create = (payload: Record<string, unknown>, key?: string) => h.req({ method: 'POST', url: '/v1/keys', payload, key });
  const newKey = async (payload: Record<string, unknown>, key?: string) => {
    const r = await create(payload, key);
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as { id: string; secret: string; scopes: string[]; domains: string[] | null; rate_limit: unknown };
  };
  const listedIds = async (key: string) => {
    const r = await h.req({ method: 'GET', url: '/v1/keys?limit=100', key });
    expect(r.statusCode).toBe(200);
    return (r.json().data as { id: string }[]).map((k) => k.id);
  };

  beforeAll(async () => {
    h = await createHarness('keys_power', { RATE_LIMIT_BURST: '100', RATE_LIMIT_PER_SEC: '10' });
    await createDomain(h, A);
    await createDomain(h, B);
  });
  afterAll(async () => {
    await h.close();
  });

  it('a key narrowed to keys:admin cannot create a full-scope admin key (403 privilege_escalation)', async () => {
    const narrow = await newKey({ name: 'keys only', role: 'admin', scopes: ['keys:admin'] });
    const full = await create({ name: 'escalated', role: 'admin' }, narrow.secret);
    expect(full.statusCode).toBe(403);
    expect(full.json().error).toMatchObject({
      code: 'privilege_escalation',
      details: { field: 'scopes', reason: 'scope_not_held', not_held: expect.arrayContaining(['links:write', 'webhooks:write']) },
    });
    const explicit = await create({ name: 'escalated', role: 'publisher', scopes: ['links:read', 'links:write'] }, narrow.secret);
    expect(explicit.statusCode).toBe(403);
    expect(explicit.json().error.details).toMatchObject({ field: 'scopes', not_held: ['links:read', 'links:write'] });
    // as much power as itself is fine
    const same = await newKey({ name: 'clone', role: 'admin', scopes: ['keys:admin'] }, narrow.secret);
    expect(same.scopes).toEqual(['keys:admin']);
  });

  it("a domain-limited key's child is limited to a subset of its domains", async () => {
    const onlyA = await newKey({ name: 'admin of A', role: 'admin', domains: [A] });
    const unrestricted = await create({ name: 'everything', role: 'publisher' }, onlyA.secret);
    expect(unrestricted.statusCode).toBe(403);
    expect(unrestricted.json().error).toMatchObject({ code: 'privilege_escalation', details: { field: 'domains', reason: 'unrestricted_child' } });
    const nullDomains = await create({ name: 'everything', role: 'publisher', domains: null }, onlyA.secret);
    expect(nullDomains.json().error.details).toMatchObject({ field: 'domains', reason: 'unrestricted_child' });
    const withB = await create({ name: 'a and b', role: 'publisher', domains: [A, B] }, onlyA.secret);
    expect(withB.statusCode).toBe(403);
    expect(withB.json().error.details).toMatchObject({ field: 'domains', reason: 'domain_not_held', not_held: [B] });
    const child = await newKey({ name: 'publisher of A', role: 'publisher', domains: ['A.POWER.example.com'] }, onlyA.secret);
    expect(child.domains).toEqual([A]);
  });

  it('a child may not get a looser rate limit than its creator; without one it inherits the creator\'s', async () => {
    const slow = await newKey({ name: 'slow admin', role: 'admin', rate_limit: { burst: 10, per_second: 1 } });
    const faster = await create({ name: 'faster', role: 'read-only', rate_limit: { burst: 10, per_second: 2 } }, slow.secret);
    expect(faster.statusCode).toBe(403);
    expect(faster.json().error).toMatchObject({ code: 'privilege_escalation', details: { field: 'rate_limit', reason: 'rate_limit_above_creator', held: { burst: 10, per_second: 1 } } });
    const none = await create({ name: 'unthrottled', role: 'read-only', rate_limit: null }, slow.secret);
    expect(none.statusCode).toBe(201);
    expect(none.json().rate_limit).toEqual({ burst: 10, per_second: 1 });
    const omitted = await newKey({ name: 'inherits', role: 'read-only' }, slow.secret);
    expect(omitted.rate_limit).toEqual({ burst: 10, per_second: 1 });
    const tighter = await newKey({ name: 'tighter', role: 'read-only', rate_limit: { burst: 5, per_second: 0.5 } }, slow.secret);
    expect(tighter.rate_limit).toEqual({ burst: 5, per_second: 0.5 });
    // a key on the server defaults (100 burst, 10/s here) cannot hand out more than those either
    const above = await create({ name: 'above defaults', role: 'read-only', rate_limit: { burst: 1000, per_second: 10 } });
    expect(above.statusCode).toBe(403);
    expect(above.json().error.details).toMatchObject({ field: 'rate_limit', held: { burst: 100, per_second: 10 } });
  });

  it('scopes outside the role stay a 400 (the request is invalid whoever sends it)', async () => {
    const r = await create({ name: 'x', role: 'analyst', scopes: ['keys:admin'] });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.details).toMatchObject({ field: 'scopes', reason: 'not_in_role' });
  });

  it('a domain-limited admin lists and revokes only keys it could have created; others are 404', async () => {
    const onlyA = await newKey({ name: 'admin of A (list)', role: 'admin', domains: [A] });
    const pubA = await newKey({ name: 'pub A', role: 'publisher', domains: [A] }, onlyA.secret);
    const pubAB = await newKey({ name: 'pub A+B', role: 'publisher', domains: [A, B] });
    const pubAll = await newKey({ name: 'pub all', role: 'publisher' });
    const narrowA = await newKey({ name: 'narrow admin A', role: 'admin', scopes: ['keys:admin', 'links:read'], domains: [A] });

    const seen = await listedIds(onlyA.secret);
    expect(seen).toContain(onlyA.id);
    expect(seen).toContain(pubA.id);
    expect(seen).toContain(narrowA.id);
    expect(seen).not.toContain(pubAB.id);
    expect(seen).not.toContain(pubAll.id);
    const bootstrap = await h.pool.query<{ id: string }>(`SELECT id FROM api_keys WHERE name = 'bootstrap admin'`);
    const bootstrapId = bootstrap.rows[0]!.id;
    expect(seen).not.toContain(bootstrapId);

    // a key narrowed in scopes sees only keys whose scopes are within its own
    const narrowSeen = await listedIds(narrowA.secret);
    expect(narrowSeen).toEqual([narrowA.id]);

    for (const id of [bootstrapId, pubAll.id, pubAB.id]) {
      const r = await h.req({ method: 'DELETE', url: `/v1/keys/${id}`, key: onlyA.secret });
      expect(r.statusCode).toBe(404);
      expect(r.json().error.code).toBe('key_not_found');
    }
    expect((await h.req({ method: 'DELETE', url: `/v1/keys/${pubA.id}`, key: narrowA.secret })).statusCode).toBe(404);
    expect((await h.req({ method: 'GET', url: '/v1/links', key: pubAll.secret })).statusCode).toBe(200);
    expect((await h.req({ method: 'GET', url: '/v1/links' })).statusCode).toBe(200); // the bootstrap key still works
    expect((await h.req({ method: 'DELETE', url: `/v1/keys/${pubA.id}`, key: onlyA.secret })).statusCode).toBe(200);
    expect((await h.req({ method: 'GET', url: '/v1/links', key: pubA.secret })).statusCode).toBe(401);
    // the unrestricted admin still sees and revokes everything
    expect(await listedIds(h.adminKey)).toEqual(expect.arrayContaining([onlyA.id, pubAB.id, pubAll.id, narrowA.id, bootstrapId]));
    expect((await h.req({ method: 'DELETE', url: `/v1/keys/${pubAB.id}` })).statusCode).toBe(200);
  });
});
