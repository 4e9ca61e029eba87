/**
 * Issue 12: a job is visible and cancellable only to keys that may touch every domain the job
 * may touch (its creating key's domains; an unrestricted creator's job: only unrestricted keys).
 * No workers run here, so jobs stay queued and can be cancelled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('bulk jobs follow domain limits', () => {
  let h: Harness;
  const A = 'a.jobs-access.example.com';
  const B = 'b.jobs-access.example.com';
  const keys: Record<string, string> = {};

  const newKey = async (name: string, domains: string[] | null) => {
    const r = await h.req({ method: 'POST', url: '/v1/keys', payload: { name, role: 'publisher', domains } });
    expect(r.statusCode, r.body).toBe(201);
    return r.json().secret as string;
  };
  const submit = async (key: string, domains: string[]) => {
    const items = domains.map((domain, i) => ({ domain, path: `p-${i}-${Math.random().toString(36).slice(2, 8)}`, destination_url: 'https://example.org/' }));
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk', key, payload: JSON.stringify({ operation: 'create', items }), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode, r.body).toBe(202);
    return r.json().job_id as string;
  };
  /** The status each read route and cancel give `key` for `job`. */
  const access = async (key: string, job: string) => ({
    get: (await h.req({ method: 'GET', url: `/v1/jobs/${job}`, key })).statusCode,
    errors: (await h.req({ method: 'GET', url: `/v1/jobs/${job}/errors`, key })).statusCode,
    results: (await h.req({ method: 'GET', url: `/v1/jobs/${job}/results`, key })).statusCode,
  });
  const cancel = (key: string, job: string) => h.req({ method: 'POST', url: `/v1/jobs/${job}/cancel`, key });
  const hidden = { get: 404, errors: 404, results: 404 };
  const visible = { get: 200, errors: 200, results: 200 };

  beforeAll(async () => {
    h = await createHarness('jobs_access');
    await createDomain(h, A);
    await createDomain(h, B);
    keys.all = h.adminKey;
    keys.a = await newKey('pub A', [A]);
    keys.a2 = await newKey('pub A (2)', [A]);
    keys.b = await newKey('pub B', [B]);
    keys.ab = await newKey('pub A+B', [A, B]);
  });
  afterAll(async () => {
    await h.close();
  });

  it("an unrestricted key's job is hidden from every domain-limited key", async () => {
    const job = await submit(keys.all!, [A, B]);
    expect(await access(keys.all!, job)).toEqual(visible);
    for (const k of [keys.a!, keys.b!, keys.ab!]) {
      expect(await access(k, job)).toEqual(hidden);
      const c = await cancel(k, job);
      expect(c.statusCode).toBe(404);
      expect(c.json().error.code).toBe('job_not_found');
    }
    expect((await h.req({ method: 'GET', url: `/v1/jobs/${job}` })).json().cancel_requested_at).toBeNull();
  });

  it("a domain-limited key's job is visible to keys that cover its domains, and cancellable by them", async () => {
    const job = await submit(keys.a!, [A]);
    expect(await access(keys.a!, job)).toEqual(visible);
    expect(await access(keys.a2!, job)).toEqual(visible);
    expect(await access(keys.ab!, job)).toEqual(visible);
    expect(await access(keys.all!, job)).toEqual(visible);
    expect(await access(keys.b!, job)).toEqual(hidden);
    expect((await cancel(keys.b!, job)).statusCode).toBe(404);
    const ok = await cancel(keys.a2!, job);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().status).toBe('cancelled');
  });

  it('a job of a key limited to A and B is hidden from a key limited to A', async () => {
    const job = await submit(keys.ab!, [A, B]);
    expect(await access(keys.a!, job)).toEqual(hidden);
    expect((await cancel(keys.a!, job)).statusCode).toBe(404);
    expect(await access(keys.ab!, job)).toEqual(visible);
    expect((await cancel(keys.all!, job)).statusCode).toBe(200);
  });
});
