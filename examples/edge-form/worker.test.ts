/**
 * The Workers-style form handler called as a Workers runtime calls it — `worker.fetch(request, env)`
 * with real Request objects — against a live API.
 */
import { Linkplane } from '@linkplane/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveStack, type LiveStack } from '../testing/live-stack.js';
import worker, { type Env } from './worker.js';

const DOMAIN = 'go.edge.example.com';
const ORIGIN = 'https://www.example.com';

let stack: LiveStack;
let lp: Linkplane;
let env: Env;

beforeAll(async () => {
  stack = await startLiveStack('edge');
  await stack.domain(DOMAIN);
  env = {
    LINKPLANE_API_URL: stack.apiUrl,
    LINKPLANE_API_KEY: await stack.key('publisher', [DOMAIN]),
    LINKPLANE_DOMAIN: DOMAIN,
    ALLOWED_ORIGIN: ORIGIN,
    ALLOWED_HOSTS: 'example.com',
  };
  lp = new Linkplane({ apiUrl: stack.apiUrl, apiKey: stack.adminKey });
});
afterAll(async () => {
  await stack?.close();
});

function submit(fields: Record<string, string> | FormData, headers: Record<string, string> = {}): Request {
  const body = fields instanceof FormData ? fields : new URLSearchParams(fields);
  return new Request('https://edge.example.com/shorten', { method: 'POST', body, headers: { origin: ORIGIN, ...headers } });
}

const links = () => lp.links.list({ domain: DOMAIN }).toArray();

describe('edge form handler', () => {
  it('creates the link from a form post; a double submit of the same form gives the same link', async () => {
    const res = await worker.fetch(submit({ url: 'https://shop.example.com/p/1?ref=form', form_id: 'f-8c1d2e3f4a5b' }, { accept: 'application/json' }), env);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { short_url: string; link_id: string };
    const [link] = await links();
    expect(body).toEqual({ short_url: link!.short_url, link_id: link!.id });
    expect(link).toMatchObject({ destination_url: 'https://shop.example.com/p/1?ref=form', tags: ['edge-form'] });
    const again = await worker.fetch(submit({ url: 'https://shop.example.com/p/1?ref=form', form_id: 'f-8c1d2e3f4a5b' }, { accept: 'application/json' }), env);
    expect([again.status, await again.json()]).toEqual([201, body]);
    expect((await links()).length).toBe(1);
  });

  it("answers a browser's multipart post with an HTML page showing the link", async () => {
    const form = new FormData();
    form.set('url', 'https://www.example.com/about');
    const res = await worker.fetch(submit(form), env);
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const link = (await links()).find((l) => l.destination_url === 'https://www.example.com/about')!;
    expect(await res.text()).toBe(
      `<!doctype html><meta charset="utf-8"><title>Short link</title><p>Your short link: <a href="${link.short_url}">${link.short_url}</a></p>`,
    );
  });

  it('refuses, without creating anything: wrong method, origin, content type, URL, host; the API refusing', async () => {
    const before = (await links()).length;
    const json = { accept: 'application/json' };
    const cases: [Request, number, unknown][] = [
      [new Request('https://edge.example.com/shorten'), 405, 'Method Not Allowed'],
      [submit({ url: 'https://shop.example.com/x' }, { ...json, origin: 'https://evil.example.net' }), 403, { error: 'forbidden_origin' }],
      [new Request('https://edge.example.com/shorten', { method: 'POST', body: JSON.stringify({ url: 'https://shop.example.com/x' }), headers: { origin: ORIGIN, 'content-type': 'application/json', ...json } }), 415, { error: 'unsupported_media_type' }],
      [submit({ url: 'shop.example.com/x' }, json), 400, { error: 'invalid_url', message: 'url must be an absolute http(s) URL' }],
      [submit({ url: 'javascript:alert(1)' }, json), 400, { error: 'invalid_url', message: 'url must be an absolute http(s) URL' }],
      [submit({ url: 'https://phish.example.net/login' }, json), 422, { error: 'host_not_allowed', message: 'phish.example.net is not a host this form shortens' }],
    ];
    for (const [req, status, body] of cases) {
      const res = await worker.fetch(req, env);
      expect([res.status, typeof body === 'string' ? await res.text() : await res.json()]).toEqual([status, body]);
    }
    expect((await worker.fetch(new Request('https://edge.example.com/shorten'), env)).headers.get('allow')).toBe('POST');
    // the API's own rules still apply (here: credentials in the URL), passed on with its code
    const refused = await worker.fetch(submit({ url: 'https://user:pw@shop.example.com/x' }, json), { ...env });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: 'invalid_url' });
    expect((await links()).length).toBe(before);
  });

  it("a key the API refuses (here: limited to another domain) is the site's 500, never a link elsewhere", async () => {
    await stack.domain('go.other.example.com');
    const wrongKey = await stack.key('publisher', ['go.other.example.com']);
    const before = (await links()).length;
    const res = await worker.fetch(submit({ url: 'https://shop.example.com/z' }, { accept: 'application/json' }), { ...env, LINKPLANE_API_KEY: wrongKey });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: 'misconfigured', message: 'this form is not set up correctly', request_id: expect.any(String) });
    expect((await links()).length).toBe(before);
  });

  it('an API that does not answer is a 502 the visitor can retry', async () => {
    const down = await worker.fetch(submit({ url: 'https://shop.example.com/y' }, { accept: 'application/json' }), { ...env, LINKPLANE_API_URL: 'http://127.0.0.1:9' });
    expect(down.status).toBe(502);
    expect(await down.json()).toMatchObject({ error: 'upstream_unavailable' });
  });
});
