/**
 * Errors raised before a route runs (Node's HTTP parser, Node's own checks, Fastify's router and
 * body parsers), sent as exact bytes over a real socket: each answer has the documented shape and
 * code, and the connection is closed where its framing can no longer be trusted.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import { buildApp } from '../app.js';
import { clientErrorAnswer } from '../http/client-error.js';
import { ADMIN_SECRET, createHarness, type Harness } from './harness.js';
import { rawRequest } from './raw-http.js';

const HEADERS_TIMEOUT_MS = 400;

describe('framework-level errors over a real socket', () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await createHarness('framework_errors', { HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) });
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h.close();
  });

  const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer ${ADMIN_SECRET}\r\n${extra}\r\n`;
  const errorOf = (body: string) => {
    const j = JSON.parse(body) as { error: { code: string; message: string; details?: Record<string, unknown> } };
    expect(Object.keys(j)).toEqual(['error']);
    expect(typeof j.error.message).toBe('string');
    return j.error;
  };

  it('bad percent-encoding in the path: 400 malformed_request', async () => {
    const r = await rawRequest(port, get('/v1/links/%zz'));
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(errorOf(r.body)).toMatchObject({ code: 'malformed_request', details: { reason: 'bad_percent_encoding', in: 'url' } });
  });

  it('a path parameter over 100 characters: 414 uri_too_long', async () => {
    const r = await rawRequest(port, get(`/v1/links/ln_${'a'.repeat(150)}`));
    expect(r.status).toBe(414);
    expect(errorOf(r.body)).toEqual({ code: 'uri_too_long', message: 'a path parameter is longer than 100 characters', details: { reason: 'path_segment_too_long', max_length: 100 } });
  });

  it('a URL over 8 KB: 414 uri_too_long; under it is served', async () => {
    const r = await rawRequest(port, get(`/v1/links?q=${'a'.repeat(9000)}`));
    expect(r.status).toBe(414);
    expect(errorOf(r.body)).toMatchObject({ code: 'uri_too_long', details: { reason: 'url_too_long', max_bytes: 8192 } });
    const ok = await rawRequest(port, get(`/v1/links?q=${'a'.repeat(200)}`));
    expect(ok.status).toBe(200);
  });

  it('a request line past the parser limit: 414 and the connection closed', async () => {
    const r = await rawRequest(port, get(`/v1/links?q=${'a'.repeat(20_000)}`));
    expect(r).toMatchObject({ status: 414, closed: true });
    expect(r.headers.connection).toBe('close');
    expect(errorOf(r.body)).toMatchObject({ code: 'uri_too_long', details: { reason: 'request_line_too_long' } });
  });

  it('headers past the parser limit: 431 headers_too_large and the connection closed', async () => {
    const r = await rawRequest(port, get('/v1/links', `X-Big: ${'a'.repeat(20_000)}\r\n`));
    expect(r).toMatchObject({ status: 431, closed: true });
    expect(errorOf(r.body)).toEqual({ code: 'headers_too_large', message: 'the request headers are too large', details: { reason: 'header_section_too_large' } });
    // many small headers add up the same way
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(50)}\r\n`).join('');
    const r2 = await rawRequest(port, get('/v1/links', many));
    expect(r2.status).toBe(431);
    expect(errorOf(r2.body).code).toBe('headers_too_large');
  });

  it.each([
    ['a control byte in a header name', get('/v1/links', 'X-B\u0001d: 1\r\n'), 'invalid_header_token'],
    ['a control byte in a header value', get('/v1/links', 'X-Bad: a\u0001b\r\n'), 'invalid_header_token'],
    ['a bare LF in a header value', get('/v1/links', 'X-Bad: a\rb\r\n'), null],
    ['an unknown method token', 'G@T /v1/links HTTP/1.1\r\nHost: a\r\n\r\n', null],
    ['a bad HTTP version', 'GET /v1/links HTTP/9.7\r\nHost: a\r\n\r\n', null],
    ['two different Content-Length values', 'POST /v1/links HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', null],
    ['an invalid chunk size', 'POST /v1/links HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n', null],
  ])('%s: 400 malformed_request, connection closed', async (_name, bytes, reason) => {
    const r = await rawRequest(port, bytes);
    expect(r).toMatchObject({ status: 400, closed: true });
    const e = errorOf(r.body);
    expect(e.code).toBe('malformed_request');
    expect(e.details?.reason).toMatch(/^[a-z_]+$/);
    if (reason) expect(e.details?.reason).toBe(reason);
  });

  it('HTTP/1.1 without Host: 400 malformed_request (Node would answer an empty 400); HTTP/1.0 without Host is served', async () => {
    const r = await rawRequest(port, 'GET /healthz HTTP/1.1\r\n\r\n');
    expect(r).toMatchObject({ status: 400, closed: true });
    expect(errorOf(r.body)).toMatchObject({ code: 'malformed_request', details: { reason: 'missing_host' } });
    const old = await rawRequest(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
  });

  it('headers that never finish: 408 request_timeout and the connection closed', async () => {
    const t0 = Date.now();
    const r = await rawRequest(port, 'GET /v1/links HTTP/1.1\r\nHost: api.test\r\n', { timeoutMs: 5000 });
    const took = Date.now() - t0;
    expect(r).toMatchObject({ status: 408, closed: true });
    expect(errorOf(r.body)).toEqual({ code: 'request_timeout', message: 'the request headers did not arrive in time', details: { reason: 'headers_timeout' } });
    expect(took).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(took).toBeLessThan(HEADERS_TIMEOUT_MS + 1500);
  });

  it('a slow trickle of header bytes is cut at the same deadline', async () => {
    const bytes = get('/v1/links', `X-Slow: ${'s'.repeat(200)}\r\n`);
    const r = await rawRequest(port, bytes, { pieces: { size: 2, everyMs: 20 }, timeoutMs: 5000 });
    expect(r.status).toBe(408);
    expect(errorOf(r.body).code).toBe('request_timeout');
  });

  it('Expect other than 100-continue: 417 expectation_failed; 100-continue is honoured', async () => {
    const r = await rawRequest(port, get('/v1/links', 'Expect: something-else\r\n'));
    expect(r).toMatchObject({ status: 417, closed: true });
    expect(errorOf(r.body)).toMatchObject({ code: 'expectation_failed', details: { expect: 'something-else' } });

    const body = '{"hostname":"go.expect.example.com"}';
    const cont = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (out.startsWith('HTTP/1.1 100') && !out.includes('\r\n\r\nHTTP')) s.write(body);
        if (/\r\n\r\n\{.*\}$/s.test(out.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''))) s.end();
      });
      s.on('close', () => resolve(out));
      s.write(`POST /v1/domains HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer ${ADMIN_SECRET}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
      setTimeout(() => s.destroy(), 3000);
    });
    expect(cont).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /);
  });

  it('a text/plain body (and a body without Content-Type) is 415 unsupported_media_type', async () => {
    const plain = await h.req({ method: 'POST', url: '/v1/links', payload: '{"domain":"x","destination_url":"https://a.com/"}', headers: { 'content-type': 'text/plain' } });
    expect(plain.statusCode).toBe(415);
    expect(errorOf(plain.body)).toEqual({ code: 'unsupported_media_type', message: 'unsupported Content-Type: text/plain', details: { content_type: 'text/plain' } });
    const none = await rawRequest(port, `POST /v1/links HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer ${ADMIN_SECRET}\r\nContent-Length: 2\r\n\r\n{}`);
    expect(none.status).toBe(415);
    expect(errorOf(none.body)).toEqual({ code: 'unsupported_media_type', message: 'the request has a body but no Content-Type', details: { content_type: null } });
  });

  it('a wrong method on a known path: 405 method_not_allowed with Allow (HEAD follows GET)', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/v1/links', 'GET, HEAD, POST'],
      ['DELETE', '/v1/links', 'GET, HEAD, POST'],
      ['POST', '/v1/links/ln_01ARZ3NDEKTSV4RRFFQ69G5FAV', 'DELETE, GET, HEAD, PATCH'],
      ['PUT', '/v1/links/ln_01ARZ3NDEKTSV4RRFFQ69G5FAV/stats?interval=day', 'GET, HEAD'],
      ['OPTIONS', '/v1/keys', 'GET, HEAD, POST'],
      ['GET', '/v1/idempotency/recover', 'POST'],
      ['HEAD', '/v1/idempotency/recover', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ];
    for (const [method, url, allow] of cases) {
      const r = await h.req({ method: method as 'GET', url });
      expect([method, url, r.statusCode, r.headers.allow]).toEqual([method, url, 405, allow]);
      if (method !== 'HEAD') {
        expect(errorOf(r.body)).toEqual({
          code: 'method_not_allowed', message: `${method} is not allowed here; use ${allow}`, details: { method, allowed: allow.split(', ') },
        });
      }
    }
    // HEAD is served wherever GET is; unknown paths stay 404
    expect((await h.req({ method: 'HEAD', url: '/v1/links' })).statusCode).toBe(200);
    const unknown = await h.req({ method: 'PUT', url: '/v1/nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers.allow).toBeUndefined();
    expect(errorOf(unknown.body).code).toBe('route_not_found');
  });

  it('clientErrorAnswer: anything unknown from the parser is still a documented 400', () => {
    expect(clientErrorAnswer({ code: 'HPE_SOMETHING_NEW' }).toBody()).toEqual({ error: { code: 'malformed_request', message: 'the request is not well-formed HTTP', details: { reason: 'something_new' } } });
    expect(clientErrorAnswer({}).code).toBe('malformed_request');
    expect(clientErrorAnswer({ code: 'HPE_HEADER_OVERFLOW', rawPacket: Buffer.from('aaaa') }).code).toBe('headers_too_large');
  });
});

describe('requests arriving while the server shuts down', () => {
  it('get the documented 503 service_unavailable with Connection: close', async () => {
    const h = await createHarness('framework_errors_close');
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const app = await buildApp({ pool: h.pool, config: h.config, log: createLogger({ name: 'test', level: 'silent' }) });
    app.get('/slow', { config: { public: true } }, async () => {
      await held;
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    try {
      const s = connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString('latin1')));
      const closed = new Promise<void>((r) => s.on('close', () => r()));
      s.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
      await new Promise((r) => setTimeout(r, 100));
      const closing = app.close();
      await new Promise((r) => setTimeout(r, 100));
      s.write(`GET /v1/links HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${ADMIN_SECRET}\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 100));
      release();
      await closing;
      await closed;
      const second = out.slice(out.indexOf('HTTP/1.1', 10));
      expect(out).toMatch(/^HTTP\/1\.1 200 /);
      expect(second).toMatch(/^HTTP\/1\.1 503 /);
      expect(second.toLowerCase()).toContain('connection: close');
      expect(JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4))).toEqual({
        error: { code: 'service_unavailable', message: 'the server is shutting down; retry', details: { reason: 'shutting_down' } },
      });
    } finally {
      release();
      await h.close();
    }
  });
});
