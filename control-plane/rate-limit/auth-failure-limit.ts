/**
 * Failed authentication, limited per client address: every 401 takes a token from the address's
 * bucket; an address with an empty bucket is answered 429 before its key is looked up, so unknown
 * keys cannot be tried without limit nor cost a Postgres query each. Successful requests take
 * nothing, so a busy client with a valid key is never limited by this, and one address's failures
 * never limit another's. The address is `req.ip` (X-Forwarded-For only with TRUST_PROXY); IPv6 by /64.
 */
import type { FastifyReply } from 'fastify';
import { errors } from '../errors.js';
import { clientBucketKey } from './client-address.js';
import { TokenBuckets, type Limit } from './token-bucket.js';

export class AuthFailureLimit {
  private readonly buckets = new TokenBuckets();

  constructor(private readonly limit: Limit) {}

  /** Throws 429 rate_limited (with Retry-After and RateLimit headers) when `ip` failed too often. */
  check(ip: string, reply: FastifyReply, now = Date.now()): void {
    const r = this.buckets.peek(clientBucketKey(ip), this.limit, now);
    if (r.allowed) return;
    const { burst, perSec } = this.limit;
    reply.header('Retry-After', String(r.retryAfter));
    reply.header('RateLimit-Policy', `"auth-failures";q=${burst};w=${Math.max(1, Math.ceil(burst / perSec))}`);
    reply.header('RateLimit', `"auth-failures";r=0;t=${r.retryAfter}`);
    throw errors.rate_limited(
      { policy: 'auth-failures', retry_after: r.retryAfter, limit: burst, per_second: perSec },
      'too many failed authentication attempts from this address',
    );
  }

  /** Counts one failed authentication from `ip`. */
  failed(ip: string, now = Date.now()): void {
    this.buckets.take(clientBucketKey(ip), this.limit, now);
  }
}
