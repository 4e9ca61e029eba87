import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('Idempotency-Key', () => {
  let h: Harness;
  const domain = 'go.idem.example.com';
  const create = (key: string, payload: Record<string, unknown>) =>
    h.req({ method: 'POST', url: '/v1/links', headers: { 'idempotency-key': key }, payload });
  const count = async (where = 'true') => Number((await h.pool.query(`SELECT count(*) AS n FROM links WHERE ${where}`)).rows[0].n);

  beforeAll(async () => {
    h = await createHarness('idempotency');
    await createDomain(h, domain);
  });
  afterAll(async () => {
    await h.close();
  });

  it('replays the first response byte for byte, with the key echoed', async () => {
    const body = { domain, path: 'idem-1', destination_url: 'https://example.org/1' };
    const first = await create('key-1', body);
    const second = await create('key-1', body);
    expect(first.statusCode).toBe(201);
    expect(second.statusCode).toBe(201);
    expect(second.body).toBe(first.body);
    expect(second.headers.location).toBe(first.headers.location);
    expect(second.headers['content-type']).toBe(first.headers['content-type']);
    expect(second.headers['idempotency-key']).toBe('key-1');
    expect(first.headers['idempotency-key']).toBe('key-1');
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await count(`path = 'idem-1'`)).toBe(1);
  });

  it('same key with a different body → 422, nothing written', async () => {
    await create('key-2', { domain, path: 'idem-2', destination_url: 'https://example.org/2' });
    const r = await create('key-2', { domain, path: 'idem-2b', destination_url: 'https://example.org/2' });
    expect(r.statusCode).toBe(422);
    expect(r.json().error.code).toBe('idempotency_key_reused');
    expect(await count(`path = 'idem-2b'`)).toBe(0);
  });

  it('same JSON with fields reordered and other whitespace → replay; a different value → 422 (issue 15)', async () => {
    const raw = (text: string) =>
      h.req({ method: 'POST', url: '/v1/links', headers: { 'idempotency-key': 'key-canon', 'content-type': 'application/json' }, payload: text });
    const first = await raw(`{"domain":"${domain}","path":"idem-canon","destination_url":"https://example.org/c","metadata":{"a":1,"b":[{"x":1,"y":2}]}}`);
    expect(first.statusCode, first.body).toBe(201);
    const reordered = await raw(
      `{\n  "metadata" : { "b" : [ { "y" : 2, "x" : 1 } ], "a" : 1 },\n\t"destination_url": "https://example.org/c", "path":"idem-canon",  "domain": "${domain}"\n}`,
    );
    expect(reordered.statusCode).toBe(201);
    expect(reordered.body).toBe(first.body);
    expect(reordered.headers['idempotent-replayed']).toBe('true');
    expect(await count(`path = 'idem-canon'`)).toBe(1);
    // array order still matters, and so does any value
    for (const text of [
      `{"domain":"${domain}","path":"idem-canon","destination_url":"https://example.org/c","metadata":{"a":2,"b":[{"x":1,"y":2}]}}`,
      `{"domain":"${domain}","path":"idem-canon","destination_url":"https://example.org/c","metadata":{"a":1,"b":[{"x":1,"y":2}],"c":null}}`,
    ]) {
      const r = await raw(text);
      expect(r.statusCode).toBe(422);
      expect(r.json().error.code).toBe('idempotency_key_reused');
      expect(r.headers['idempotent-replayed']).toBeUndefined();
    }
  });

  it('50 parallel requests with one key → exactly one link', async () => {
    const body = { domain, destination_url: 'https://example.org/parallel' };
    const results = await Promise.all(Array.from({ length: 50 }, () => create('key-parallel', body)));
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    for (const r of results.filter((x) => x.statusCode === 409)) {
      expect(r.json().error.code).toBe('idempotency_in_flight');
      expect(r.headers['retry-after']).toBe('1');
    }
    const created = new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json().id));
    expect(created.size).toBe(1);
    expect(await count(`destination_url = 'https://example.org/parallel'`)).toBe(1);
    // and a later retry replays the same link
    expect((await create('key-parallel', body)).json().id).toBe([...created][0]);
  });

  // creates and updates write their record in their write statement (no reservation before it): a
  // retry that would now fail still replays, and a reused key is still 422, whatever the body would do
  it('the record decides before a failure the request would now meet (replay, 422)', async () => {
    const body = { domain, path: 'decides', destination_url: 'https://denied.example.net/d' };
    const first = await create('key-decides', body);
    expect(first.statusCode).toBe(201);
    expect((await h.req({ method: 'PUT', url: '/v1/policy', payload: { destination_hosts_deny: ['denied.example.net'] } })).statusCode).toBe(200);
    try {
      const retry = await create('key-decides', body); // the policy would refuse it now
      expect([retry.statusCode, retry.headers['idempotent-replayed'], retry.body]).toEqual([201, 'true', first.body]);
      const other = await create('key-decides', { ...body, destination_url: 'https://denied.example.net/other' });
      expect([other.statusCode, other.json().error.code]).toEqual([422, 'idempotency_key_reused']);
      // a PATCH likewise
      const id = first.json<{ id: string }>().id;
      const p1 = await h.req({ method: 'PATCH', url: `/v1/links/${id}`, headers: { 'idempotency-key': 'key-decides-p' }, payload: { destination_url: 'https://denied.example.net/p' } });
      expect(p1.statusCode).toBe(422); // a denied destination: a 4xx, stored
      const p2 = await h.req({ method: 'PATCH', url: `/v1/links/${id}`, headers: { 'idempotency-key': 'key-decides-p' }, payload: { destination_url: 'https://denied.example.net/p' } });
      expect([p2.statusCode, p2.headers['idempotent-replayed'], p2.body]).toEqual([422, 'true', p1.body]);
    } finally {
      expect((await h.req({ method: 'PUT', url: '/v1/policy', payload: {} })).statusCode).toBe(200);
    }
    const missing = await h.req({ method: 'PATCH', url: '/v1/links/ln_00000000000000000000000000', headers: { 'idempotency-key': 'key-404' }, payload: { tags: ['p'] } });
    expect(missing.statusCode).toBe(404);
    const again = await h.req({ method: 'PATCH', url: '/v1/links/ln_00000000000000000000000000', headers: { 'idempotency-key': 'key-404' }, payload: { tags: ['p'] } });
    expect([again.statusCode, again.headers['idempotent-replayed']]).toEqual([404, 'true']);
  });

  it('parallel requests with one key and one path → one link, every answer its replay (never path_conflict)', async () => {
    const body = { domain, path: 'parallel-path', destination_url: 'https://example.org/parallel-path' };
    const results = await Promise.all(Array.from({ length: 20 }, () => create('key-parallel-path', body)));
    expect(results.map((r) => r.statusCode).every((s) => s === 201 || s === 409)).toBe(true);
    for (const r of results.filter((x) => x.statusCode === 409)) expect(r.json().error.code).toBe('idempotency_in_flight');
    expect(new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json().id)).size).toBe(1);
    expect(await count(`path = 'parallel-path'`)).toBe(1);
  });

  it('stores 4xx answers too (a retried conflicting create stays a conflict)', async () => {
    await create('key-3a', { domain, path: 'taken', destination_url: 'https://example.org/3' });
    const conflict = await create('key-3b', { domain, path: 'taken', destination_url: 'https://example.org/3' });
    expect(conflict.statusCode).toBe(409);
    const again = await create('key-3b', { domain, path: 'taken', destination_url: 'https://example.org/3' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toBe(conflict.body);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('a 5xx frees the key so the retry runs (and succeeds once the fault is gone)', async () => {
    const body = { domain, path: 'after-outage', destination_url: 'https://example.org/5xx' };
    await h.pool.query('ALTER TABLE links RENAME TO links_away');
    const failed = await create('key-5xx', body);
    await h.pool.query('ALTER TABLE links_away RENAME TO links');
    expect(failed.statusCode).toBe(500);
    expect(failed.json()).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    const retry = await create('key-5xx', body);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('a key left in flight by a crashed request is taken over after its lease', async () => {
    const body = { domain, path: 'crashed', destination_url: 'https://example.org/crash' };
    const first = await create('key-crash', body);
    // simulate a crash before commit: the response was never stored and nothing committed
    await h.pool.query(`DELETE FROM links WHERE id = $1`, [first.json().id]);
    await h.pool.query(`UPDATE idempotency_keys SET state = 'in_flight', response_status = NULL, response_body = NULL,
      locked_until = now() - interval '1 second' WHERE idem_key = 'key-crash'`);
    const retry = await create('key-crash', body);
    expect(retry.statusCode).toBe(201);
    expect(await count(`path = 'crashed'`)).toBe(1);
  });

  it('expired keys (24 h) start over', async () => {
    const body = { domain, destination_url: 'https://example.org/expired' };
    const first = await create('key-old', body);
    await h.pool.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE idem_key = 'key-old'`);
    const second = await create('key-old', body);
    expect(second.statusCode).toBe(201);
    expect(second.json().id).not.toBe(first.json().id);
  });

  it('applies to PATCH and DELETE as well', async () => {
    const l = (await create('key-l', { domain, path: 'patch-me', destination_url: 'https://example.org/p' })).json();
    const p1 = await h.req({ method: 'PATCH', url: `/v1/links/${l.id}`, headers: { 'idempotency-key': 'key-p' }, payload: { tags: ['x'] } });
    const p2 = await h.req({ method: 'PATCH', url: `/v1/links/${l.id}`, headers: { 'idempotency-key': 'key-p' }, payload: { tags: ['x'] } });
    expect(p2.body).toBe(p1.body);
    expect(p2.json().version).toBe(2); // not applied twice
    const d1 = await h.req({ method: 'DELETE', url: `/v1/links/${l.id}`, headers: { 'idempotency-key': 'key-d' } });
    const d2 = await h.req({ method: 'DELETE', url: `/v1/links/${l.id}`, headers: { 'idempotency-key': 'key-d' } });
    expect([d1.statusCode, d2.statusCode]).toEqual([200, 200]);
    expect(d2.body).toBe(d1.body);
  });

  it('rejects malformed keys', async () => {
    const r = await create('has spaces', { domain, destination_url: 'https://example.org/x' });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'invalid_idempotency_key', details: { field: 'Idempotency-Key' } });
  });

  it('POST /v1/idempotency/recover returns the stored response', async () => {
    const body = { domain, path: 'recover-me', destination_url: 'https://example.org/r' };
    const first = await create('key-recover', body);
    const r = await h.req({ method: 'POST', url: '/v1/idempotency/recover', payload: { key: 'key-recover' } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ key: 'key-recover', state: 'completed', method: 'POST', path: '/v1/links', response: { status: 201, body: first.json() } });
    const missing = await h.req({ method: 'POST', url: '/v1/idempotency/recover', payload: { key: 'never-used' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('idempotency_key_not_found');
  });
});
