/** onRequest: resolves `Authorization: Bearer <key>` and enforces the route's scope (401/403). */
import type { FastifyInstance } from 'fastify';
import type { Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { authenticate } from './key-store.js';

export function registerAuth(app: FastifyInstance, db: Queryable): void {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (req) => {
    const config = req.routeOptions.config;
    if (config.public || !req.routeOptions.url) return; // public route, or 404 (answered by the not-found handler)
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw errors.unauthorized({ reason: header ? 'malformed' : 'missing' });
    const auth = await authenticate(db, match[1]!);
    if (!auth) throw errors.unauthorized({ reason: 'invalid_or_revoked' });
    req.auth = auth;
    if (config.scope && !auth.scopes.has(config.scope)) {
      throw errors.insufficient_scope({ required: config.scope, granted: [...auth.scopes] });
    }
  });
}
