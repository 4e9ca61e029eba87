/**
 * CORS (issue 15): listed origins get their preflight answered (before authentication) and the
 * Access-Control-* headers on every answer, errors included; any other origin, and every origin
 * when CORS_ORIGINS is unset, gets none of them — and a preflight is never a 405.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/index.js';
import { loadControlPlaneConfig } from '../config.js';
import { createHarness, TEST_SECRETS_KEY, type Harness } from './harness.js';

const ADMIN_PAGE = 'https://admin.example.com';
const accessControl = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('access-control-')));
const preflight = (origin: string, url = '/v1/links', method = 'POST') => ({
  method: 'OPTIONS' as const, url, key: null,
  headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
});

describe('CORS with CORS_ORIGINS set', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('cors_on', { CORS_ORIGINS: `${ADMIN_PAGE}, http://localhost:5173` });
  });
  afterAll(async () => h?.close());

  it('a listed origin\'s preflight: 204 without a key, methods, request headers, exposed headers, max age', async () => {
    for (const url of ['/v1/links', '/v1/links/ln_01ARZ3NDEKTSV4RRFFQ69G5FAV', '/v1/webhooks/endpoints']) {
      const r = await h.req(preflight(ADMIN_PAGE, url, 'PATCH'));
      expect([url, r.statusCode, r.body]).toEqual([url, 204, '']);
      expect(accessControl(r.headers)).toEqual({
        'access-control-allow-origin': ADMIN_PAGE,
        'access-control-allow-methods': 'GET, HEAD, POST, PATCH, DELETE',
        'access-control-allow-headers': 'Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent',
        'access-control-expose-headers': 'RateLimit, RateLimit-Policy, Retry-After, Location, X-Request-Id, Idempotent-Replayed',
        'access-control-max-age': '600',
      });
      expect(r.headers.vary).toBe('Origin');
    }
    const local = await h.req(preflight('http://localhost:5173'));
    expect([local.statusCode, local.headers['access-control-allow-origin']]).toEqual([204, 'http://localhost:5173']);
  });

  it('a listed origin\'s calls carry the allow and expose headers, errors (401, 404) too', async () => {
    const ok = await h.req({ method: 'GET', url: '/v1/links', headers: { origin: ADMIN_PAGE } });
    expect(ok.statusCode).toBe(200);
    expect(accessControl(ok.headers)).toEqual({
      'access-control-allow-origin': ADMIN_PAGE,
      'access-control-expose-headers': 'RateLimit, RateLimit-Policy, Retry-After, Location, X-Request-Id, Idempotent-Replayed',
    });
    expect(ok.headers.vary).toBe('Origin');
    const noKey = await h.req({ method: 'GET', url: '/v1/links', key: null, headers: { origin: ADMIN_PAGE } });
    expect([noKey.statusCode, noKey.headers['access-control-allow-origin']]).toEqual([401, ADMIN_PAGE]);
    const missing = await h.req({ method: 'GET', url: '/v1/nope', headers: { origin: ADMIN_PAGE } });
    expect([missing.statusCode, missing.headers['access-control-allow-origin']]).toEqual([404, ADMIN_PAGE]);
  });

  it('another origin gets no Access-Control-* header: its preflight is an empty 204, its calls answer as usual', async () => {
    for (const origin of ['https://evil.example.com', 'https://admin.example.com.evil.com', 'http://admin.example.com', 'null']) {
      const pre = await h.req(preflight(origin));
      expect([origin, pre.statusCode, pre.body, accessControl(pre.headers)]).toEqual([origin, 204, '', {}]);
      expect(pre.headers.allow).toBe('GET, HEAD, POST');
      const call = await h.req({ method: 'GET', url: '/v1/links', headers: { origin } });
      expect([origin, call.statusCode, accessControl(call.headers)]).toEqual([origin, 200, {}]);
    }
  });

  it('an OPTIONS that is no preflight keeps the 405 with Allow; unknown paths stay 404', async () => {
    const plain = await h.req({ method: 'OPTIONS', url: '/v1/keys' });
    expect([plain.statusCode, plain.headers.allow, accessControl(plain.headers)]).toEqual([405, 'GET, HEAD, POST', {}]);
    const unknown = await h.req({ method: 'PUT', url: '/v1/nope' });
    expect([unknown.statusCode, unknown.headers.allow]).toEqual([404, undefined]);
  });
});

describe('CORS unset (the default)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('cors_off');
  });
  afterAll(async () => h?.close());

  it('no origin gets Access-Control-* headers; a preflight is an empty 204, never 405; unknown paths 404', async () => {
    const pre = await h.req(preflight(ADMIN_PAGE));
    expect([pre.statusCode, pre.body, pre.headers.allow, accessControl(pre.headers)]).toEqual([204, '', 'GET, HEAD, POST', {}]);
    const call = await h.req({ method: 'GET', url: '/v1/links', headers: { origin: ADMIN_PAGE } });
    expect([call.statusCode, accessControl(call.headers), call.headers.vary]).toEqual([200, {}, undefined]);
    const unknown = await h.req(preflight(ADMIN_PAGE, '/v1/nope'));
    expect(unknown.statusCode).toBe(404);
  });
});

describe('CORS_ORIGINS validation', () => {
  const load = (v: string) => () => loadControlPlaneConfig({ SECRETS_KEY: TEST_SECRETS_KEY, CORS_ORIGINS: v });
  it('accepts origins and *; refuses paths, trailing slashes, other schemes and junk, naming them', () => {
    expect(load('https://a.example.com, http://localhost:5173')().CORS_ORIGINS).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(load('*')().CORS_ORIGINS).toEqual(['*']);
    expect(load('')().CORS_ORIGINS).toEqual([]);
    expect(load('https://a.example.com/,ftp://b.example.com,c.example.com,https://d.example.com/x')).toThrow(ConfigError);
    expect(load('https://a.example.com/,ftp://b.example.com,c.example.com,https://d.example.com/x')).toThrow(
      'CORS_ORIGINS: https://a.example.com/, ftp://b.example.com, c.example.com, https://d.example.com/x is not an origin (scheme://host[:port], nothing after) nor *');
  });
});
