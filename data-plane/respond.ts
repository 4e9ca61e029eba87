/**
 * Writes a decision to the connection. Redirects carry Location + Cache-Control and an empty
 * body. 404/410 on a branded domain answer with a small branded page; when the domain has a
 * fallback URL (not_found_url / expired_url) the page sends the browser there (Location header +
 * meta refresh) while crawlers and API clients still see the true status. HEAD gets the same
 * headers and no body.
 */
import { PERMANENT_PRIVATE_CACHE, PERMANENT_SHARED_CACHE, TEMPORARY_CACHE, type Decision } from './resolve.js';

/** Text as uWS takes it: a string, or its bytes (ASCII here). */
export type Text = string | Uint8Array;

/** The parts of uWS's HttpResponse we use (tests can pass a recorder). */
export interface ResponseWriter {
  writeStatus(status: Text): unknown;
  writeHeader(key: Text, value: Text): unknown;
  end(body?: Text, closeConnection?: boolean): unknown;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): unknown;
}

/**
 * Fixed texts of a redirect, encoded once. uWS copies a string argument through a UTF-8 buffer it
 * allocates and frees on every call; bytes it reads in place.
 */
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const H_LOCATION = ascii('Location');
const H_CACHE_CONTROL = ascii('Cache-Control');
const H_REQUEST_ID = ascii('X-Request-Id');
export const STATUS_LINES: Record<number, string> = {
  200: '200 OK',
  301: '301 Moved Permanently',
  302: '302 Found',
  307: '307 Temporary Redirect',
  308: '308 Permanent Redirect',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  410: '410 Gone',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

/** The redirect status lines (every status a link redirects with), as bytes. */
const REDIRECT_LINES: Record<number, Uint8Array> = Object.fromEntries([301, 302, 307, 308].map((s) => [s, ascii(STATUS_LINES[s]!)]));
/** The Cache-Control values resolve.ts answers links without expiry with, by identity. */
const CACHE_VALUES = new Map<string, Uint8Array>([TEMPORARY_CACHE, PERMANENT_SHARED_CACHE, PERMANENT_PRIVATE_CACHE].map((v) => [v, ascii(v)]));

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function fallbackPage(status: 404 | 410, hostname: string, fallbackUrl: string | null): string {
  const title = status === 404 ? 'This link does not exist' : 'This link has expired';
  const detail = status === 404
    ? 'The short link you followed is not (or not yet) in use on this domain.'
    : 'The short link you followed is no longer active.';
  const url = fallbackUrl === null ? null : escapeHtml(fallbackUrl);
  const host = escapeHtml(hostname);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">${url ? `\n<meta http-equiv="refresh" content="0;url=${url}">` : ''}
<title>${title} · ${host}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f6f7f9;color:#1f2328}main{max-width:32rem;padding:2rem;text-align:center}h1{font-size:1.4rem;margin:0 0 .5rem}small{color:#656d76}</style>
</head><body><main><h1>${title}</h1><p>${detail}</p>${url ? `<p><a href="${url}">Continue</a></p>` : ''}<small>${host}</small></main></body></html>
`;
}

function send(res: ResponseWriter, head: boolean, body: string, close: boolean): void {
  if (head) {
    // uWS 20.30: endWithoutBody(n > 0) waits for a body that never comes and any argument adds its
    // own Content-Length, so the length is written here and endWithoutBody gets no arguments
    // (the connection is then kept; a draining node closes it when it stops)
    res.writeHeader('Content-Length', String(Buffer.byteLength(body)));
    res.endWithoutBody();
  } else {
    res.end(body, close);
  }
}

/** `requestId`: the request's X-Request-Id to echo ('' when none; see request-id.ts). */
export function respond(res: ResponseWriter, d: Decision, head: boolean, close: boolean, requestId = ''): void {
  if (d.kind === 'redirect') {
    res.writeStatus(REDIRECT_LINES[d.status] ?? STATUS_LINES[d.status]!);
    if (requestId.length > 0) res.writeHeader(H_REQUEST_ID, requestId);
    res.writeHeader(H_LOCATION, d.location);
    res.writeHeader(H_CACHE_CONTROL, CACHE_VALUES.get(d.cacheControl) ?? d.cacheControl);
    if (head) res.endWithoutBody(0, close);
    else res.end(undefined, close);
    return;
  }
  res.writeStatus(STATUS_LINES[d.status]!);
  if (requestId.length > 0) res.writeHeader('X-Request-Id', requestId);
  res.writeHeader('Cache-Control', 'no-store');
  res.writeHeader('X-Content-Type-Options', 'nosniff');
  if (d.hostname === null) {
    res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
    send(res, head, 'Not Found\n', close);
    return;
  }
  if (d.fallbackUrl !== null) res.writeHeader('Location', d.fallbackUrl);
  res.writeHeader('Content-Type', 'text/html; charset=utf-8');
  send(res, head, fallbackPage(d.status, d.hostname, d.fallbackUrl), close);
}

export { send as sendBody };

export function respondText(res: ResponseWriter, status: number, body: string, head: boolean, close: boolean, headers?: Record<string, string>, requestId = ''): void {
  res.writeStatus(STATUS_LINES[status] ?? `${status}`);
  if (requestId.length > 0) res.writeHeader('X-Request-Id', requestId);
  res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
  res.writeHeader('Cache-Control', 'no-store');
  if (headers) for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
  send(res, head, body, close);
}
