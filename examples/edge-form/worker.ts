/**
 * An edge form handler in the Workers style (Cloudflare Workers, Deno Deploy, Bun, Vercel Edge):
 * `export default { fetch(request, env) }` with the standard Request/Response, and the SDK's core,
 * which uses nothing but `fetch` and Web Crypto.
 *
 * A public "shorten this page" form is an open door for phishing links, so: the form must come
 * from your site (`Origin`), its URL must be on a host you allow, and a double submit of one form
 * (`form_id`, a nonce rendered into it) gives one link, not two.
 */
import { Linkplane, LinkplaneError } from '@linkplane/sdk';

export interface Env {
  LINKPLANE_API_URL: string;
  /** A publisher key limited to LINKPLANE_DOMAIN (POST /v1/keys with role publisher and domains). */
  LINKPLANE_API_KEY: string;
  LINKPLANE_DOMAIN: string;
  /** The site the form lives on, e.g. https://www.example.com (requests from elsewhere get 403). */
  ALLOWED_ORIGIN?: string;
  /** Comma-separated hosts whose pages may be shortened (subdomains included), e.g. example.com. */
  ALLOWED_HOSTS?: string;
}

const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'];

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (request.method !== 'POST') return new Response('Method Not Allowed', { status: 405, headers: { allow: 'POST' } });
    if (env.ALLOWED_ORIGIN && request.headers.get('origin') !== env.ALLOWED_ORIGIN) return answer(request, 403, { error: 'forbidden_origin' });
    const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!FORM_TYPES.includes(type)) return answer(request, 415, { error: 'unsupported_media_type' });

    const form = await request.formData();
    const dest = String(form.get('url') ?? '').trim();
    let url: URL;
    try {
      url = new URL(dest);
    } catch {
      return answer(request, 400, { error: 'invalid_url', message: 'url must be an absolute http(s) URL' });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return answer(request, 400, { error: 'invalid_url', message: 'url must be an absolute http(s) URL' });
    if (!hostAllowed(url.hostname, env.ALLOWED_HOSTS)) return answer(request, 422, { error: 'host_not_allowed', message: `${url.hostname} is not a host this form shortens` });

    const formId = String(form.get('form_id') ?? '');
    const lp = new Linkplane({ apiUrl: env.LINKPLANE_API_URL, apiKey: env.LINKPLANE_API_KEY, retry: { retries: 2 } });
    try {
      const link = await lp.links.create(
        { domain: env.LINKPLANE_DOMAIN, destination_url: url.toString(), tags: ['edge-form'] },
        /^[A-Za-z0-9_-]{8,64}$/.test(formId) ? { idempotencyKey: `edge-form:${formId}` } : {},
      );
      return answer(request, 201, { short_url: link.short_url, link_id: link.id });
    } catch (err) {
      if (!(err instanceof LinkplaneError)) throw err;
      if (err.status === 400 || err.status === 422) return answer(request, 422, { error: err.code, message: err.message });
      if (err.status === 401 || err.status === 403) {
        // the key is wrong, revoked or not allowed on this domain: the site's problem, not the visitor's
        console.error(`linkplane refused the form's API key: ${err.code} (request ${err.requestId})`);
        return answer(request, 500, { error: 'misconfigured', message: 'this form is not set up correctly', request_id: err.requestId });
      }
      return answer(request, 502, { error: 'upstream_unavailable', message: 'the link service did not answer; try again', request_id: err.requestId });
    }
  },
};

function hostAllowed(host: string, allowed: string | undefined): boolean {
  if (!allowed) return true;
  return allowed.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean).some((h) => host === h || host.endsWith(`.${h}`));
}

/** JSON for scripts (`Accept: application/json`), a small HTML page for a browser's form post. */
function answer(request: Request, status: number, body: Record<string, string | null>): Response {
  if ((request.headers.get('accept') ?? '').includes('application/json')) return Response.json(body, { status });
  const text = body.short_url
    ? `<p>Your short link: <a href="${escapeHtml(body.short_url)}">${escapeHtml(body.short_url)}</a></p>`
    : `<p>${escapeHtml(body.message ?? body.error ?? 'error')}</p>`;
  return new Response(`<!doctype html><meta charset="utf-8"><title>Short link</title>${text}`, { status, headers: { 'content-type': 'text/html; charset=utf-8' } });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
