import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlocks, REPO_ROOT } from '../../shared/testing/index.js';
import { ERROR_CATALOG } from '../errors.js';
import { ADMIN_SECRET, createHarness, type Harness } from './harness.js';
import { rawRequest } from './raw-http.js';

/**
 * docs/errors.md has ONE table of error codes (`| code | status | when |`): its rows, code → status.
 * Any other table whose rows start with a code and a status (a second, partial copy) fails the test.
 */
const ERRORS_DOC = 'docs/errors.md';
function documentedRows(): { rows: [code: string, status: number][]; tables: number } {
  const text = readFileSync(join(REPO_ROOT, ERRORS_DOC), 'utf8');
  const rows: [string, number][] = [];
  let tables = 0;
  let inTable = false;
  for (const line of text.split('\n')) {
    if (/^\|\s*code\s*\|\s*status\s*\|/.test(line)) {
      tables++;
      inTable = true;
      continue;
    }
    if (!line.startsWith('|')) inTable = false;
    const m = /^\|\s*`([a-z0-9_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    if (m) {
      if (!inTable) throw new Error(`${ERRORS_DOC}: an error row outside the error table: ${line}`);
      rows.push([m[1]!, Number(m[2])]);
    }
  }
  return { rows, tables };
}
const { rows, tables } = documentedRows();
const documented = (code: string, status: number) => rows.some(([c, s]) => c === code && s === status);

describe('error catalog', () => {
  it('docs/errors.md has one error table, one row per code, exactly the catalog at its statuses', () => {
    expect(tables).toBe(1);
    expect(rows.length).toBeGreaterThanOrEqual(40);
    const codes = rows.map(([c]) => c);
    expect(codes.filter((c, i) => codes.indexOf(c) !== i), 'codes listed twice').toEqual([]);
    const missing = Object.entries(ERROR_CATALOG)
      .filter(([code, spec]) => !documented(code, spec.status))
      .map(([code, spec]) => `${code} (${spec.status})`);
    expect(missing, 'catalog codes missing from docs/errors.md or at another status').toEqual([]);
    expect(codes.filter((c) => !(c in ERROR_CATALOG)), 'rows naming a code the catalog does not have').toEqual([]);
  });

  it('the example answer of docs/errors.md has the documented shape and a catalog code', () => {
    const [example] = docBlocks('docs/errors.md', 'json', { min: 1 }) as [string];
    const body = JSON.parse(example) as { error: { code: string; message: string; details: Record<string, unknown> } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error)).toEqual(['code', 'message', 'details']);
    expect(body.error.code in ERROR_CATALOG).toBe(true);
  });

  it('no other doc has an error table (README.md, docs/*.md)', () => {
    const files = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md') && f !== 'errors.md').map((f) => `docs/${f}`)];
    const others = files.filter((f) => /^\|\s*`[a-z0-9_]+`\s*\|\s*\d{3}\s*\|/m.test(readFileSync(join(REPO_ROOT, f), 'utf8')));
    expect(others).toEqual([]);
  });

  it('codes are snake_case and statuses are HTTP error statuses', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOG)) {
      expect(code).toMatch(/^[a-z][a-z0-9_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });
});

/**
 * Errors raised before any route runs — by Node's HTTP parser, Node's own checks, Fastify's router
 * and body parsers — sent as exact bytes: each answer is the documented shape with a code from the
 * catalog, at the catalog's status, with a row in docs/errors.md.
 */
const auth = `Authorization: Bearer ${ADMIN_SECRET}\r\n`;
const FRAMEWORK_CASES: [name: string, bytes: string, status: number, code: string][] = [
  ['bad percent-encoding', `GET /v1/links/%E0%A4%A HTTP/1.1\r\nHost: a\r\n${auth}\r\n`, 400, 'malformed_request'],
  ['a path parameter too long', `GET /v1/links/${'x'.repeat(300)} HTTP/1.1\r\nHost: a\r\n${auth}\r\n`, 414, 'uri_too_long'],
  ['a URL too long', `GET /v1/links?q=${'x'.repeat(10_000)} HTTP/1.1\r\nHost: a\r\n${auth}\r\n`, 414, 'uri_too_long'],
  ['a request line past the parser limit', `GET /v1/links?q=${'x'.repeat(40_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414, 'uri_too_long'],
  ['headers too large', `GET /v1/links HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(40_000)}\r\n\r\n`, 431, 'headers_too_large'],
  ['a bad header byte', `GET /v1/links HTTP/1.1\r\nHost: a\r\nX-Bad: \u0000\r\n\r\n`, 400, 'malformed_request'],
  ['a space before the colon', `GET /v1/links HTTP/1.1\r\nHost: a\r\nX-Bad : 1\r\n\r\n`, 400, 'malformed_request'],
  ['a request that is not HTTP', '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003', 400, 'malformed_request'],
  ['HTTP/1.1 without Host', `GET /v1/links HTTP/1.1\r\n${auth}\r\n`, 400, 'malformed_request'],
  ['headers that never finish', `GET /v1/links HTTP/1.1\r\nHost: a\r\n`, 408, 'request_timeout'],
  ['an Expect other than 100-continue', `POST /v1/links HTTP/1.1\r\nHost: a\r\n${auth}Expect: 200-ok\r\nContent-Length: 0\r\n\r\n`, 417, 'expectation_failed'],
  ['a text/plain body', `POST /v1/links HTTP/1.1\r\nHost: a\r\n${auth}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}`, 415, 'unsupported_media_type'],
  ['a wrong method on a known path', `PUT /v1/links HTTP/1.1\r\nHost: a\r\n${auth}Content-Length: 0\r\n\r\n`, 405, 'method_not_allowed'],
  ['an unknown path', `GET /v1/nope HTTP/1.1\r\nHost: a\r\n\r\n`, 404, 'route_not_found'],
  ['no API key', `GET /v1/links HTTP/1.1\r\nHost: a\r\n\r\n`, 401, 'unauthorized'],
  ['a body larger than allowed', `POST /v1/links HTTP/1.1\r\nHost: a\r\n${auth}Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"a":"${'x'.repeat(4990)}"}`, 413, 'body_too_large'],
];

describe('framework-level errors have the documented shape and a documented code', () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await createHarness('errors_documented', { HEADERS_TIMEOUT_MS: '300', BODY_LIMIT_BYTES: '4096' });
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(FRAMEWORK_CASES)('%s', async (_name, bytes, status, code) => {
    const r = await rawRequest(port, bytes, { timeoutMs: 4000 });
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(r.body) as { error: { code: string; message: string; details?: unknown } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).filter((k) => !['code', 'message', 'details'].includes(k))).toEqual([]);
    expect(typeof body.error.message).toBe('string');
    expect(body.error.code).toBe(code);
    expect(ERROR_CATALOG[code as keyof typeof ERROR_CATALOG]?.status).toBe(status);
    expect(documented(code, status)).toBe(true);
  });
});
