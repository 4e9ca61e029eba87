/**
 * Which methods a path accepts, learnt from the routes as they are registered, so that a known
 * path asked with another method is 405 with `Allow` rather than 404 (RFC 9110 §15.5.6).
 */
import type { FastifyInstance } from 'fastify';

interface RoutePattern {
  url: string;
  pattern: RegExp;
  methods: Set<string>;
}

/** `/v1/links/:id/stats` → /^\/v1\/links\/[^/]+\/stats$/ (`*` matches the rest). */
export function routePattern(url: string): RegExp {
  const parts = url.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}$`);
}

export class AllowedMethods {
  private readonly routes = new Map<string, RoutePattern>();

  add(url: string, method: string | string[]): void {
    if (url === '*') return; // the CORS preflight catch-all (http/cors.ts) is no path's method
    let r = this.routes.get(url);
    if (!r) {
      r = { url, pattern: routePattern(url), methods: new Set() };
      this.routes.set(url, r);
    }
    for (const m of Array.isArray(method) ? method : [method]) r.methods.add(m.toUpperCase());
    if (r.methods.has('GET')) r.methods.add('HEAD'); // HEAD follows GET (Fastify's exposeHeadRoutes)
  }

  /** The methods some route serves on this path (query ignored), sorted; empty = no route has it. */
  forPath(url: string): string[] {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const out = new Set<string>();
    for (const r of this.routes.values()) if (r.pattern.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}

/** Records every route registered after this call (in any plugin). */
export function trackAllowedMethods(app: FastifyInstance): AllowedMethods {
  const allowed = new AllowedMethods();
  app.addHook('onRoute', (route) => allowed.add(route.url, route.method));
  return allowed;
}
