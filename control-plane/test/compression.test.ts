/**
 * Compression (issue 15): gzip or brotli per Accept-Encoding for the API's JSON, the OpenAPI
 * document and the exports, from 1 KB up; decoded bodies equal the uncompressed answers byte for
 * byte; PNG QR codes and small answers go out as they are.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('response compression', () => {
  let h: Harness;
  let domain: string;
  let linkId: string;
  beforeAll(async () => {
    h = await createHarness('compression');
    domain = await createDomain(h);
    for (let i = 0; i < 30; i++) {
      const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: `p${i}`, destination_url: `https://example.com/landing/${i}?a=1` } });
      expect(r.statusCode).toBe(201);
      linkId = r.json<{ id: string }>().id;
    }
  });
  afterAll(async () => h?.close());

  const get = (url: string, acceptEncoding?: string) =>
    h.req({ method: 'GET', url, headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } });

  const cases: [string, string][] = [
    ['the OpenAPI document', '/v1/openapi.json'],
    ['a link list', '/v1/links?limit=30'],
    ['a click export (CSV stream)', `/v1/links/${'ID'}/clicks?format=csv`],
    ['an SVG QR code', `/v1/links/${'ID'}/qr?format=svg&size=1000`],
  ];
  cases.forEach(([name, path]) => {
    it(`${name}: gzip and br decode to the identity body, with Content-Encoding and Vary`, async () => {
      const url = path.replace('ID', linkId);
      const plain = await get(url);
      expect(plain.statusCode).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers.vary).toBeUndefined();
      if (!url.includes('clicks')) expect(plain.rawPayload.length).toBeGreaterThan(1024);
      for (const [accept, encoding, decode] of [
        ['gzip, deflate', 'gzip', gunzipSync],
        ['gzip, deflate, br', 'br', brotliDecompressSync],
        ['br;q=0.5, gzip', 'gzip', gunzipSync],
      ] as const) {
        const r = await get(url, accept);
        expect([accept, r.statusCode, r.headers['content-encoding'], r.headers.vary]).toEqual([accept, 200, encoding, 'accept-encoding']);
        expect(r.headers['content-type']).toBe(plain.headers['content-type']);
        expect(decode(r.rawPayload).toString('utf8')).toBe(plain.body);
        if (plain.rawPayload.length > 1024) expect(r.rawPayload.length).toBeLessThan(plain.rawPayload.length / 2);
      }
    });
  });

  it('the OpenAPI document shrinks at least 5× with gzip', async () => {
    const plain = await get('/v1/openapi.json');
    const gz = await get('/v1/openapi.json', 'gzip');
    const br = await get('/v1/openapi.json', 'br');
    console.log(`OpenAPI document: ${plain.rawPayload.length} B, gzip ${gz.rawPayload.length} B, br ${br.rawPayload.length} B`);
    expect(gz.rawPayload.length * 5).toBeLessThan(plain.rawPayload.length);
  });

  it('a PNG QR code is never compressed (already compressed), whatever the client accepts', async () => {
    const plain = await get(`/v1/links/${linkId}/qr?size=1000`);
    const asked = await get(`/v1/links/${linkId}/qr?size=1000`, 'gzip, br');
    expect([asked.statusCode, asked.headers['content-type'], asked.headers['content-encoding'], asked.headers.vary]).toEqual([200, 'image/png', undefined, undefined]);
    expect(asked.rawPayload.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(asked.rawPayload.equals(plain.rawPayload)).toBe(true);
  });

  it('answers under 1 KB, identity-only clients and unknown encodings get the plain body', async () => {
    const one = await get(`/v1/links/${linkId}`, 'gzip, br');
    expect(one.rawPayload.length).toBeLessThan(1024);
    expect([one.headers['content-encoding'], JSON.parse(one.body).id]).toEqual([undefined, linkId]);
    for (const accept of ['identity', 'compress', 'gzip;q=0']) {
      const r = await get('/v1/openapi.json', accept);
      expect([accept, r.statusCode, r.headers['content-encoding']]).toEqual([accept, 200, undefined]);
      expect(JSON.parse(r.body).openapi).toBe('3.0.3');
    }
  });

  it('an idempotent replay stores the plain answer: compressed for who asks, plain for who does not', async () => {
    const payload = { domain, path: 'big', destination_url: 'https://example.com/big', metadata: { note: 'x'.repeat(2000) } };
    const headers = { 'idempotency-key': 'compress-replay-1' };
    const first = await h.req({ method: 'POST', url: '/v1/links', payload, headers: { ...headers, 'accept-encoding': 'gzip' } });
    expect([first.statusCode, first.headers['content-encoding']]).toEqual([201, 'gzip']);
    const body = gunzipSync(first.rawPayload).toString('utf8');
    const replay = await h.req({ method: 'POST', url: '/v1/links', payload, headers });
    expect([replay.statusCode, replay.headers['idempotent-replayed'], replay.headers['content-encoding'], replay.body]).toEqual([201, 'true', undefined, body]);
    const replayBr = await h.req({ method: 'POST', url: '/v1/links', payload, headers: { ...headers, 'accept-encoding': 'br' } });
    expect([replayBr.headers['content-encoding'], brotliDecompressSync(replayBr.rawPayload).toString('utf8')]).toEqual(['br', body]);
  });

  it('a gzipped request body is not inflated: read as sent, 400 invalid_json', async () => {
    const r = await h.req({ method: 'POST', url: '/v1/links', payload: Buffer.from([0x1f, 0x8b, 0, 0]), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
    expect([r.statusCode, r.json<{ error: { code: string } }>().error.code]).toEqual([400, 'invalid_json']);
  });
});
