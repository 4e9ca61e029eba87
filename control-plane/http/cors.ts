/**
 * CORS for browser clients on other origins (an admin page, an extension). Off unless
 * `CORS_ORIGINS` lists origins. A listed origin's preflight is answered 204 before
 * authentication (a preflight carries no credentials); any other origin gets no `Access-Control-*`
 * header at all. Bearer keys are not cookies, so credentials are never allowed.
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'];
export const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'traceparent'];
export const CORS_EXPOSED_HEADERS = ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'Location', 'X-Request-Id', 'Idempotent-Replayed'];
/** How long a browser may cache a preflight (Chromium caps it at 2 h). */
export const CORS_MAX_AGE_S = 600;

/** `CORS_ORIGINS` entries that are neither `*` nor an origin (`scheme://host[:port]`, nothing after). */
export function badCorsOrigins(origins: readonly string[]): string[] {
  return origins.filter((o) => {
    if (o === '*') return false;
    try {
      const u = new URL(o);
      return (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== o;
    } catch {
      return true;
    }
  });
}

/** True for a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method. */
export function isPreflight(method: string, headers: Record<string, unknown>): boolean {
  return method === 'OPTIONS' && typeof headers.origin === 'string' && typeof headers['access-control-request-method'] === 'string';
}

export async function registerCors(app: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  const any = origins.includes('*');
  const allowed = new Set(origins);
  // the plugin's catch-all preflight route is public: a preflight has no Authorization to check
  app.addHook('onRoute', (route) => {
    if (route.url === '*' && route.method === 'OPTIONS') route.config = { ...route.config, public: true };
  });
  await app.register(cors, {
    // false (not an origin list) for the others: the plugin then adds no Access-Control-* header at all
    origin: (origin, cb) => cb(null, origin !== undefined && (any || allowed.has(origin)) ? origin : false),
    methods: CORS_METHODS,
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: CORS_MAX_AGE_S,
    strictPreflight: false,
  });
}
