/**
 * Deprecated routes announce it on every answer: `Deprecation` (RFC 9745, the date it was
 * deprecated as `@<unix seconds>`), `Sunset` (RFC 8594, when it stops working), and `Link` to its
 * successor (rel="successor-version") and to the notice (rel="deprecation"). A route opts in with
 * `config.deprecated` and `schema.deprecated: true` (which marks it in the OpenAPI document).
 */
import type { FastifyInstance } from 'fastify';

export interface Deprecated {
  /** When it was deprecated (ISO date). */
  since: string;
  /** When it stops working (ISO date); absent: not scheduled. */
  sunset?: string;
  /** The path that replaces it. */
  successor?: string;
  /** Where the deprecation is explained. */
  notice?: string;
}

/** The response headers a deprecated route sends. Pure. */
export function deprecationHeaders(d: Deprecated): Record<string, string> {
  const h: Record<string, string> = { deprecation: `@${Math.floor(Date.parse(d.since) / 1000)}` };
  if (d.sunset) h.sunset = new Date(d.sunset).toUTCString();
  const links = [d.successor && `<${d.successor}>; rel="successor-version"`, d.notice && `<${d.notice}>; rel="deprecation"`].filter(Boolean);
  if (links.length) h.link = links.join(', ');
  return h;
}

export function registerDeprecation(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    const d = req.routeOptions.config.deprecated;
    if (d) reply.headers(deprecationHeaders(d));
  });
}
