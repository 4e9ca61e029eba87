import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('one error shape for every failure; never a 500 for bad input', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('http_errors', { BODY_LIMIT_BYTES: '4096' });
    await createDomain(h, 'go.errors.example.com');
  });
  afterAll(async () => {
    await h.close();
  });

  const shape = (body: string) => {
    const j = JSON.parse(body);
    expect(Object.keys(j)).toEqual(['error']);
    expect(typeof j.error.code).toBe('string');
    expect(typeof j.error.message).toBe('string');
    return j.error;
  };

  it.each([
    ['malformed JSON', { payload: '{"domain":', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
    ['empty JSON body', { payload: '', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
    ['JSON that is not an object', { payload: '[1,2]', headers: { 'content-type': 'application/json' } }, 400, 'validation_failed'],
    ['unsupported media type', { payload: '<link/>', headers: { 'content-type': 'application/xml' } }, 415, 'unsupported_media_type'],
    ['body too large', { payload: JSON.stringify({ domain: 'x', destination_url: 'https://a.com/', metadata: { b: 'x'.repeat(10_000) } }), headers: { 'content-type': 'application/json' } }, 413, 'body_too_large'],
    ['prototype pollution attempt', { payload: '{"__proto__":{"admin":true},"domain":"go.errors.example.com","destination_url":"https://a.com/"}', headers: { 'content-type': 'application/json' } }, 400, 'invalid_json'],
  ])('%s', async (_n, opts, status, code) => {
    const r = await h.req({ method: 'POST', url: '/v1/links', ...opts });
    expect(r.statusCode).toBe(status);
    expect(shape(r.body).code).toBe(code);
  });

  it('unknown route and unknown id', async () => {
    const r = await h.req({ method: 'GET', url: '/v1/nope' });
    expect(r.statusCode).toBe(404);
    expect(shape(r.body).code).toBe('route_not_found');
    const bad = await h.req({ method: 'GET', url: '/v1/links/not-an-id' });
    expect(bad.statusCode).toBe(400);
    expect(shape(bad.body)).toMatchObject({ code: 'invalid_id', details: { field: 'id', in: 'params', expected: 'ln_ + 26 Crockford base32 characters' } });
    const missing = await h.req({ method: 'GET', url: '/v1/links/ln_01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    expect(missing.statusCode).toBe(404);
    expect(shape(missing.body).code).toBe('link_not_found');
  });

  it('bad query parameters and cursors', async () => {
    const lim = await h.req({ method: 'GET', url: '/v1/links?limit=5000' });
    expect(shape(lim.body)).toMatchObject({ code: 'validation_failed', details: { field: 'limit', in: 'querystring' } });
    const cur = await h.req({ method: 'GET', url: '/v1/links?cursor=garbage' });
    expect(cur.statusCode).toBe(400);
    expect(shape(cur.body).code).toBe('invalid_cursor');
    const date = await h.req({ method: 'GET', url: '/v1/links?created_from=2026-13-45' });
    expect(date.statusCode).toBe(400);
  });

  it('unicode tricks in JSON strings are handled, not crashed on', async () => {
    const r = await h.req({
      method: 'POST', url: '/v1/links', headers: { 'content-type': 'application/json' },
      payload: '{"domain":"go.errors.example.com","path":"\\ud800","destination_url":"https://a.com/"}',
    });
    // a lone surrogate is invalid Unicode anywhere: the input guard refuses it before the path rules
    expect(r.statusCode).toBe(400);
    expect(shape(r.body)).toMatchObject({ code: 'validation_failed', details: { field: 'path', reason: 'lone_surrogate' } });
  });

  it('every response carries a request id, and an incoming one is kept', async () => {
    const r = await h.req({ method: 'GET', url: '/v1/links', headers: { 'x-request-id': 'trace-abc-123' } });
    expect(r.headers['x-request-id']).toBe('trace-abc-123');
    const r2 = await h.req({ method: 'GET', url: '/v1/links', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(r2.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
