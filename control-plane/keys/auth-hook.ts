/**
 * onRequest: resolves `Authorization: Bearer <key>` (401 with `WWW-Authenticate`, RFC 6750).
 * Failed attempts are limited per client address (429 before any key lookup). The route's scope is
 * checked by scope-hook.ts, after the key's rate limit, so a 403 spends the key's tokens too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../db/pool.js';
import type { ApiError } from '../../shared/index.js';
import { errors } from '../errors.js';
import type { AuthFailureLimit } from '../rate-limit/auth-failure-limit.js';
import type { KeyCache } from './key-cache.js';
import { authenticate, type AuthContext } from './key-store.js';
import { looksLikeJwt } from '../oauth/tokens.js';
import type { LastUsed } from './last-used.js';

/** An RFC 6750 challenge: `Bearer realm="linkplane"`, plus the error when credentials were presented. */
export function bearerChallenge(error?: { code: string; description?: string; scope?: string }): string {
  let c = 'Bearer realm="linkplane"';
  if (error) c += `, error="${error.code}"`;
  if (error?.description) c += `, error_description="${error.description}"`;
  if (error?.scope) c += `, scope="${error.scope}"`;
  return c;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export interface AuthOptions {
  /** Notes each API key's use for `last_used_at` (written in batches). */
  lastUsed?: LastUsed;
  /** Resolves keys from memory for a short time (keys/key-cache.ts); without it every request reads Postgres. */
  keyCache?: KeyCache;
  /** Verifies a bearer that is a JWT (an OAuth client's access token, oauth/tokens.ts). */
  verifyJwt?: (token: string) => Promise<AuthContext | { refused: 'expired' | 'invalid' | 'revoked'; why: string }>;
}

/** `failureLimit` is shared with POST /oauth/token: a wrong client secret counts like a wrong key. */
export function registerAuth(app: FastifyInstance, db: Queryable, failureLimit: AuthFailureLimit, opts: AuthOptions = {}): void {
  const refuse = (req: FastifyRequest, reply: FastifyReply, reason: string, challenge: string, error: ApiError = errors.unauthorized({ reason })) => {
    failureLimit.failed(req.ip);
    reply.header('WWW-Authenticate', challenge);
    return error;
  };

  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    if (config.public || !req.routeOptions.url) return; // public route, or 404 (answered by the not-found handler)
    failureLimit.check(req.ip, reply);
    const header = req.headers.authorization;
    if (!header) throw refuse(req, reply, 'missing', bearerChallenge());
    const match = BEARER.exec(header);
    if (!match) {
      // another scheme presents no bearer token (no error attribute); a broken Bearer header is a bad request
      const bearer = /^Bearer(\s|$)/i.test(header);
      throw refuse(req, reply, 'malformed', bearer ? bearerChallenge({ code: 'invalid_request', description: 'expected "Bearer <key>"' }) : bearerChallenge());
    }
    const token = match[1]!;
    if (opts.verifyJwt && looksLikeJwt(token)) {
      const r = await opts.verifyJwt(token);
      if ('refused' in r) {
        const challenge = bearerChallenge({ code: 'invalid_token', description: r.why });
        if (r.refused === 'expired') throw refuse(req, reply, 'expired', challenge, errors.token_expired({ reason: 'expired' }));
        throw refuse(req, reply, r.refused === 'revoked' ? 'client_revoked' : 'invalid_token', challenge);
      }
      req.auth = r;
      return;
    }
    const auth = opts.keyCache ? await opts.keyCache.authenticate(db, token) : await authenticate(db, token);
    if (!auth) throw refuse(req, reply, 'invalid_or_revoked', bearerChallenge({ code: 'invalid_token', description: 'the API key is unknown or revoked' }));
    if (auth === 'expired') {
      throw refuse(req, reply, 'expired', bearerChallenge({ code: 'invalid_token', description: 'the API key expired' }), errors.key_expired({ reason: 'expired' }));
    }
    opts.lastUsed?.touch(auth.keyId);
    req.auth = auth;
  });
}
