/**
 * The admin console's files under /ui/ (issue 19): public (the key is typed into the page), hashed
 * assets immutable and precompressed, the index revalidated, a strict CSP on every answer, and the
 * API's own 404 for anything else. The console is built here into this file's own folder.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole, type ConsoleBuild } from '../../scripts/build-console.js';
import { UI_CSP } from '../http/ui-routes.js';
import { createHarness, type Harness } from './harness.js';

describe('admin console files under /ui/', () => {
  let h: Harness;
  let dir: string;
  let built: ConsoleBuild;
  let js: string;
  let css: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lp-ui-'));
    built = await buildConsole(join(dir, 'ui'));
    js = built.files.find((f) => f.path.endsWith('.js'))!.path;
    css = built.files.find((f) => f.path.endsWith('.css'))!.path;
    h = await createHarness('ui_routes', { UI_DIR: built.outDir });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the build reports its files and stays within the budget; the page has no inline code and no other origin', () => {
    expect(js).toMatch(/^assets\/app-[A-Z0-9]{8}\.js$/);
    expect(css).toMatch(/^assets\/app-[A-Z0-9]{8}\.css$/);
    expect(built.jsGzip).toBeGreaterThan(1000);
    expect(built.jsGzip).toBeLessThanOrEqual(150 * 1024);
    const html = readFileSync(join(built.outDir, 'index.html'), 'utf8');
    expect([...html.matchAll(/<script[^>]*>/g)].map((m) => m[0])).toEqual([`<script type="module" src="./${js}">`]);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=|https?:\/\//);
  });

  it('/ui/ is the index: no key needed, revalidated, strict CSP', async () => {
    const r = await h.req({ method: 'GET', url: '/ui/', key: null });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['content-security-policy']).toBe(UI_CSP);
    expect(UI_CSP).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body).toContain(`src="./${js}"`);
    const again = await h.req({ method: 'GET', url: '/ui/', key: null, headers: { 'if-none-match': String(r.headers.etag) } });
    expect([again.statusCode, again.body]).toEqual([304, '']);
    expect((await h.req({ method: 'GET', url: '/ui', key: null })).headers.location).toBe('/ui/');
  });

  it('hashed assets are immutable and sent brotli- or gzip-compressed as asked', async () => {
    const raw = readFileSync(join(built.outDir, js));
    const plain = await h.req({ method: 'GET', url: `/ui/${js}`, key: null });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.rawPayload.equals(raw)).toBe(true);
    const br = await h.req({ method: 'GET', url: `/ui/${js}`, key: null, headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toContain('Accept-Encoding');
    expect(brotliDecompressSync(br.rawPayload).equals(raw)).toBe(true);
    const gz = await h.req({ method: 'GET', url: `/ui/${css}`, key: null, headers: { 'accept-encoding': 'gzip' } });
    expect([gz.headers['content-encoding'], gz.headers['content-type']]).toEqual(['gzip', 'text/css; charset=utf-8']);
    const head = await h.req({ method: 'HEAD', url: `/ui/${css}`, key: null });
    expect(head.statusCode).toBe(200);
  });

  it('anything else under /ui/ is the API 404, as is the index by name or a twin file', async () => {
    for (const url of ['/ui/nope.js', '/ui/index.html', `/ui/${js}.br`, '/ui/../package.json', '/ui/assets/']) {
      const r = await h.req({ method: 'GET', url, key: null });
      expect([url, r.statusCode, r.json().error.code]).toEqual([url, 404, 'route_not_found']);
    }
  });

  it('without a build there is no /ui/ and the API is unaffected', async () => {
    const bare = await createHarness('ui_routes_none', { UI_DIR: join(dir, 'missing') });
    try {
      expect((await bare.req({ method: 'GET', url: '/ui/', key: null })).statusCode).toBe(404);
      expect((await bare.req({ method: 'GET', url: '/v1/keys/me' })).statusCode).toBe(200);
    } finally {
      await bare.close();
    }
  });
});
