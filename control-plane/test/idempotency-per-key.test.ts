/**
 * Idempotency records belong to the API key that made them (issue 12, critical): another key of
 * the workspace — whatever its role or domain limit — never recovers, replays or blocks them, and
 * the bulk-job idempotency index is per key too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('idempotency records are per API key', () => {
  let h: Harness;
  const A = 'a.idem-key.example.com';
  const B = 'b.idem-key.example.com';
  const keys: Record<'admin2' | 'publisher' | 'analyst' | 'readOnly' | 'limitedAdmin' | 'limitedPublisher', { id: string; secret: string }> = {} as never;

  const newKey = async (role: string, domains: string[] | null = null) => {
    const r = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: `${role} ${domains?.join(',') ?? 'all'}`, role, domains } });
    expect(r.statusCode, r.body).toBe(201);
    return r.json<{ id: string; secret: string }>();
  };
  const recover = (key: string, idem: string) => h.req({ method: 'POST', url: '/v1/idempotency/recover', key, payload: { key: idem } });
  const createLink = (key: string | undefined, idem: string, payload: Record<string, unknown>) =>
    h.req({ method: 'POST', url: '/v1/links', ...(key ? { key } : {}), headers: { 'idempotency-key': idem }, payload });
  const jobBody = (idem: string) =>
    JSON.stringify({ operation: 'create', items: [{ domain: A, destination_url: 'https://example.org/job' }], callback_url: 'http://127.0.0.1:9/cb', idempotency_key: idem });
  const postJob = (key: string | undefined, idem: string) =>
    h.req({ method: 'POST', url: '/v1/links/bulk', ...(key ? { key } : {}), headers: { 'content-type': 'application/json' }, payload: jobBody(idem) });

  beforeAll(async () => {
    h = await createHarness('idempotency_per_key', { WEBHOOK_ALLOW_PRIVATE: 'true' });
    await createDomain(h, A);
    await createDomain(h, B);
    keys.admin2 = await newKey('admin');
    keys.publisher = await newKey('publisher');
    keys.analyst = await newKey('analyst');
    keys.readOnly = await newKey('read-only');
    keys.limitedAdmin = await newKey('admin', [A]);
    keys.limitedPublisher = await newKey('publisher', [A]);
  });
  afterAll(async () => {
    await h.close();
  });

  it("no other key recovers the admin's key-creation record (nor its secret); the admin does", async () => {
    const made = await h.req({ method: 'POST', url: '/v1/keys', headers: { 'idempotency-key': 'admin-new-key' }, payload: { name: 'crown jewels', role: 'admin' } });
    expect(made.statusCode).toBe(201);
    for (const k of [keys.analyst, keys.readOnly, keys.limitedAdmin, keys.limitedPublisher, keys.admin2]) {
      const r = await recover(k.secret, 'admin-new-key');
      expect(r.statusCode).toBe(404);
      expect(r.json()).toEqual({ error: { code: 'idempotency_key_not_found', message: 'no stored response for this Idempotency-Key', details: { key: 'admin-new-key' } } });
      expect(r.body).not.toContain(made.json<{ secret: string }>().secret);
    }
    const own = await recover(h.adminKey, 'admin-new-key');
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ key: 'admin-new-key', state: 'completed', method: 'POST', path: '/v1/keys', response: { status: 201 } });
    expect(own.json().response.body.id).toBe(made.json<{ id: string }>().id);
  });

  it('another key recovering webhook endpoint creation or rotation gets nothing', async () => {
    const ep = await h.req({ method: 'POST', url: '/v1/webhooks/endpoints', headers: { 'idempotency-key': 'admin-endpoint' }, payload: { url: 'http://127.0.0.1:9/hook' } });
    expect(ep.statusCode).toBe(201);
    const rot = await h.req({ method: 'POST', url: `/v1/webhooks/endpoints/${ep.json<{ id: string }>().id}/secrets/rotate`, headers: { 'idempotency-key': 'admin-rotate' }, payload: {} });
    expect(rot.statusCode).toBe(200);
    for (const k of [keys.analyst, keys.readOnly, keys.limitedAdmin, keys.admin2]) {
      expect((await recover(k.secret, 'admin-endpoint')).statusCode).toBe(404);
      expect((await recover(k.secret, 'admin-rotate')).statusCode).toBe(404);
    }
  });

  it('a second key sending the same Idempotency-Key and body gets its own result, not a replay', async () => {
    const body = { domain: A, destination_url: 'https://example.org/same' };
    const first = await createLink(undefined, 'shared-name', body);
    const second = await createLink(keys.publisher.secret, 'shared-name', body);
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.json<{ id: string }>().id).not.toBe(first.json<{ id: string }>().id);
    // each key replays its own
    const again = await createLink(keys.publisher.secret, 'shared-name', body);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json<{ id: string }>().id).toBe(second.json<{ id: string }>().id);
    const rows = await h.pool.query<{ api_key_id: string }>(`SELECT api_key_id FROM idempotency_keys WHERE idem_key = 'shared-name' ORDER BY created_at`);
    expect(rows.rows.map((r) => r.api_key_id).sort()).toEqual([keys.publisher.id, (await adminKeyId(h))].sort());
  });

  it("a domain-limited key does not get a replay of a link on a domain it may not touch", async () => {
    const body = { domain: B, path: 'only-b', destination_url: 'https://example.org/b' };
    const first = await createLink(undefined, 'b-link', body);
    expect(first.statusCode).toBe(201);
    const limited = await createLink(keys.limitedPublisher.secret, 'b-link', body);
    expect(limited.statusCode).toBe(403);
    expect(limited.json().error.code).toBe('domain_not_allowed');
    expect(limited.headers['idempotent-replayed']).toBeUndefined();
  });

  it("a key cannot poison another key's Idempotency-Key", async () => {
    const body = { domain: B, path: 'poisoned', destination_url: 'https://example.org/p' };
    // a key limited to A stores its 403 under the name first …
    const poison = await createLink(keys.limitedPublisher.secret, 'poison-me', body);
    expect(poison.statusCode).toBe(403);
    expect(poison.json().error.code).toBe('domain_not_allowed');
    // … and another body under a second name
    const poison2 = await createLink(keys.limitedPublisher.secret, 'poison-me-2', { domain: A, destination_url: 'https://example.org/other' });
    expect(poison2.statusCode).toBe(201);
    // the admin's identical request and its different one both run
    const admin = await createLink(undefined, 'poison-me', body);
    expect(admin.statusCode).toBe(201);
    expect(admin.headers['idempotent-replayed']).toBeUndefined();
    expect(admin.json()).toMatchObject({ domain: B, path: 'poisoned' });
    const admin2 = await createLink(undefined, 'poison-me-2', { domain: B, path: 'poisoned-2', destination_url: 'https://example.org/p2' });
    expect(admin2.statusCode).toBe(201);
    expect(admin2.json()).toMatchObject({ domain: B, path: 'poisoned-2' });
    // and the poisoner still has its own 403 replayed
    const replay = await createLink(keys.limitedPublisher.secret, 'poison-me', body);
    expect(replay.statusCode).toBe(403);
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('the request hash includes the key id', async () => {
    await createLink(undefined, 'hash-check', { domain: A, destination_url: 'https://example.org/h' });
    await createLink(keys.publisher.secret, 'hash-check', { domain: A, destination_url: 'https://example.org/h' });
    const { rows } = await h.pool.query<{ request_hash: Buffer }>(`SELECT request_hash FROM idempotency_keys WHERE idem_key = 'hash-check'`);
    expect(rows.length).toBe(2);
    expect(rows[0]!.request_hash.equals(rows[1]!.request_hash)).toBe(false);
  });

  it("bulk jobs: a second key re-posting the same idempotency_key gets its own job and callback secret", async () => {
    const first = await postJob(undefined, 'job-shared');
    expect(first.statusCode, first.body).toBe(202);
    const { job_id: firstId, callback_secret: firstSecret } = first.json<{ job_id: string; callback_secret: string }>();
    expect(firstSecret).toMatch(/^whsec_/);
    const other = await postJob(keys.limitedPublisher.secret, 'job-shared');
    expect(other.statusCode, other.body).toBe(202);
    const o = other.json<{ job_id: string; callback_secret: string }>();
    expect(o.job_id).not.toBe(firstId);
    expect(o.callback_secret).toMatch(/^whsec_/);
    expect(o.callback_secret).not.toBe(firstSecret);
    expect(other.body).not.toContain(firstSecret);
    expect(other.body).not.toContain(firstId);
    // the same key re-posting gets its own job again
    const again = await postJob(keys.limitedPublisher.secret, 'job-shared');
    expect(again.json<{ job_id: string }>().job_id).toBe(o.job_id);
    const { rows } = await h.pool.query<{ n: string }>(`SELECT count(*) AS n FROM jobs WHERE idempotency_key = 'job-shared'`);
    expect(Number(rows[0]!.n)).toBe(2);
  });

  it('bulk jobs: the same job idempotency_key via the Idempotency-Key header is per key too', async () => {
    const post = (key: string | undefined) =>
      h.req({
        method: 'POST', url: '/v1/links/bulk', ...(key ? { key } : {}),
        headers: { 'content-type': 'application/json', 'idempotency-key': 'job-header' },
        payload: JSON.stringify({ operation: 'create', items: [{ domain: A, destination_url: 'https://example.org/jh' }] }),
      });
    const a = await post(undefined);
    const b = await post(keys.publisher.secret);
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.json<{ job_id: string }>().job_id).not.toBe(a.json<{ job_id: string }>().job_id);
  });
});

async function adminKeyId(h: Harness): Promise<string> {
  const { rows } = await h.pool.query<{ id: string }>(`SELECT id FROM api_keys ORDER BY created_at LIMIT 1`);
  return rows[0]!.id;
}
