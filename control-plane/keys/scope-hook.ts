/**
 * onRequest (after authentication and the key's rate limit): 403 insufficient_scope when the key
 * lacks the route's scope, with the RFC 6750 challenge naming the scope.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';
import { bearerChallenge } from './auth-hook.js';

export function registerScopeCheck(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    const scope = req.routeOptions.config.scope;
    const auth = req.auth;
    if (!auth || !scope || auth.scopes.has(scope)) return;
    reply.header('WWW-Authenticate', bearerChallenge({ code: 'insufficient_scope', scope }));
    throw errors.insufficient_scope({ required: scope, granted: [...auth.scopes] });
  });
}
