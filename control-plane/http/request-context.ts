/** What the hooks attach to a request, and the typed route config every route declares. */
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../audit/record.js';
import type { Deprecated } from './deprecation.js';
import { errors } from '../errors.js';
import type { Reservation } from '../idempotency/store.js';
import type { AuthContext } from '../keys/key-store.js';
import type { LastUsed } from '../keys/last-used.js';
import type { SigningKeys } from '../oauth/index.js';
import type { Scope } from '../keys/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
    idem: Reservation | null;
  }
  interface FastifyInstance {
    /** API keys' last use, written in batches (keys/last-used.ts). */
    lastUsed: LastUsed;
    /** The keys that sign and verify OAuth access tokens (oauth/signing-keys.ts). */
    signingKeys: SigningKeys;
  }
  interface FastifyContextConfig {
    /** The scope the route needs; routes without one (and without `public`) need only a valid key. */
    scope?: Scope;
    /** No API key needed (health, metrics, OpenAPI). */
    public?: boolean;
    /** The route is deprecated: every answer carries Deprecation/Sunset/Link (http/deprecation.ts). */
    deprecated?: Deprecated;
    /**
     * The route writes its Idempotency-Key record in its own write statement, with the response
     * (idempotency/idempotency-hook.ts `settleDeferred`): no reservation round trip before it.
     */
    idempotencyInWrite?: boolean;
  }
}

export function authOf(req: FastifyRequest): AuthContext {
  if (!req.auth) throw errors.unauthorized();
  return req.auth;
}

export function actorOf(req: FastifyRequest): Actor {
  return {
    auth: authOf(req),
    requestId: req.id,
    ip: req.ip ?? null,
    userAgent: req.headers['user-agent'] ?? null,
  };
}
