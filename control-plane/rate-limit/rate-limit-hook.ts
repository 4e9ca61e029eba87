/**
 * onRequest (after auth): a token bucket per API key. Every authenticated response carries
 * `RateLimit-Policy` and `RateLimit` (IETF draft-ietf-httpapi-ratelimit-headers); a 429 adds
 * `Retry-After`.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';
import { TokenBuckets, type Limit } from './token-bucket.js';

export function registerRateLimit(app: FastifyInstance, defaults: Limit): void {
  const buckets = new TokenBuckets();
  app.addHook('onRequest', async (req, reply) => {
    const auth = req.auth;
    if (!auth) return;
    const limit: Limit = {
      burst: auth.rateLimit?.burst || defaults.burst,
      perSec: auth.rateLimit?.perSec || defaults.perSec,
    };
    const r = buckets.take(auth.keyId, limit);
    const window = Math.max(1, Math.ceil(limit.burst / limit.perSec));
    reply.header('RateLimit-Policy', `"per-key";q=${limit.burst};w=${window}`);
    reply.header('RateLimit', `"per-key";r=${r.remaining};t=${r.allowed ? r.reset : r.retryAfter}`);
    if (!r.allowed) {
      reply.header('Retry-After', String(r.retryAfter));
      throw errors.rate_limited({ retry_after: r.retryAfter, limit: limit.burst, per_second: limit.perSec });
    }
  });
}
