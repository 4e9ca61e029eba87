import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { normalizeHostname } from '../../shared/index.js';
import { recordAudit } from '../audit/index.js';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import type { KeyCache } from '../keys/key-cache.js';
import { createKey, listKeys, ownKey, revokeKey, type ApiKeyRow, type AuthContext } from '../keys/key-store.js';
import { rateLimitResource } from '../keys/credential-store.js';
import { checkChildPower, childExpiry, childRateLimit, type RateLimit } from '../keys/key-power.js';
import { parseInstant } from '../instant.js';
import { activeClient } from '../oauth/client-store.js';
import { ROLE_SCOPES, type Role, type Scope } from '../keys/roles.js';
import { decodeIdCursor, encodeIdCursor } from './cursor.js';
import { actorOf, authOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { errorResponses, IdParams, KeyCreate, KeyWithSecret, Nullable, PageQuery } from './schemas.js';

export function toKeyResource(row: ApiKeyRow) {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    scopes: row.scopes,
    domains: row.domains,
    rate_limit: rateLimitResource(row),
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    expires_at: row.expires_at?.toISOString() ?? null,
  };
}

/**
 * The power a new key or OAuth client asks for, checked: scopes within its role, hostnames
 * normalized, and nothing beyond the creating key's (scopes, domains, role, rate limit).
 */
export function checkedPower(
  auth: AuthContext,
  b: { role: Role; scopes?: Scope[]; domains?: string[] | null; rate_limit?: { burst: number; per_second: number } | null },
  defaults: RateLimit,
): { scopes: Scope[]; domains: string[] | null; rateLimit: RateLimit | null } {
  const allowed = ROLE_SCOPES[b.role];
  const scopes = b.scopes ?? [...allowed];
  const extra = scopes.filter((s) => !allowed.includes(s));
  if (extra.length) throw errors.validation_failed({ field: 'scopes', reason: 'not_in_role', scopes: extra }, `scopes ${extra.join(', ')} are not part of role ${b.role}`);
  let domains: string[] | null = null;
  if (b.domains) {
    domains = [...new Set(b.domains.map((d, i) => {
      const h = normalizeHostname(d);
      if (!h) throw errors.invalid_hostname({ field: `domains[${i}]` });
      return h;
    }))];
  }
  checkChildPower(auth, { role: b.role, scopes, domains });
  const rateLimit = childRateLimit(auth, b.rate_limit && { burst: b.rate_limit.burst, perSec: b.rate_limit.per_second }, defaults);
  return { scopes, domains, rateLimit };
}

export const keysRoutes =
  (pool: Pool, defaults: RateLimit, keyCache?: KeyCache): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['keys'];
    app.post('/v1/keys', {
      config: { scope: 'keys:admin' },
      schema: {
        tags, operationId: 'createKey', summary: 'Create an API key (the secret is returned once; a replay has it redacted)',
        body: KeyCreate,
        response: { 201: KeyWithSecret, ...errorResponses(400, 401, 403, 409, 422, 429) },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      const b = req.body;
      const { scopes, domains, rateLimit } = checkedPower(actor.auth, b, defaults);
      const expiresAt = childExpiry(actor.auth, b.expires_at == null ? null : new Date(parseInstant(b.expires_at, 'expires_at', 'body')));
      return commitAndRespond(req, reply, pool, 201, async (tx) => {
        const { row, secret } = await createKey(tx, {
          workspaceId: actor.auth.workspaceId,
          name: b.name,
          role: b.role,
          scopes,
          domains,
          rateLimit,
          createdBy: actor.auth.keyId,
          expiresAt,
        });
        await recordAudit(tx, actor, 'key.create', { type: 'key', id: row.id }, {
          after: { name: row.name, role: row.role, scopes: row.scopes, domains: row.domains, rate_limit: toKeyResource(row).rate_limit, expires_at: row.expires_at },
        });
        return { ...toKeyResource(row), secret };
      }, undefined, ['secret']);
    });

    app.get('/v1/keys', {
      config: { scope: 'keys:admin' },
      schema: {
        tags, operationId: 'listKeys', summary: 'List active API keys the caller could have created (never their secrets)',
        querystring: PageQuery,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Key')), next_cursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 429) },
      },
    }, async (req) => {
      const auth = authOf(req);
      const after = req.query.cursor ? decodeIdCursor(req.query.cursor, 'key') : null;
      const rows = await listKeys(pool, auth, { limit: req.query.limit + 1, after });
      const more = rows.length > req.query.limit;
      if (more) rows.pop();
      return { data: rows.map(toKeyResource), next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    });

    // any valid key may ask what it is: clients (the admin console) offer only what its scopes allow
    app.get('/v1/keys/me', {
      schema: {
        tags, operationId: 'getCurrentKey', summary: 'The calling API key (or OAuth client, id oac_…, with its token\'s scopes): its role, scopes, domain limit and rate limit (never its secret)',
        response: { 200: Type.Ref('Key'), ...errorResponses(401, 429) },
      },
    }, async (req) => {
      const auth = authOf(req);
      if (auth.via === 'oauth_client') {
        const client = await activeClient(pool, auth.keyId);
        if (!client) throw errors.unauthorized();
        return { ...toKeyResource({ ...client, scopes: [...auth.scopes], last_used_at: null, expires_at: null }), prefix: client.prefix };
      }
      const row = await ownKey(pool, auth);
      if (!row) throw errors.unauthorized(); // revoked between authentication and this read
      return toKeyResource(row);
    });

    app.delete('/v1/keys/:id', {
      config: { scope: 'keys:admin' },
      schema: {
        tags, operationId: 'revokeKey', summary: 'Revoke an API key (immediately)',
        params: IdParams('key'),
        response: { 200: Type.Ref('Key'), ...errorResponses(401, 403, 404, 429) },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      const sent = await commitAndRespond(req, reply, pool, 200, async (tx) => {
        const row = await revokeKey(tx, actor.auth, req.params.id); // a key above the caller is as absent as a missing one
        if (!row) throw errors.key_not_found({ id: req.params.id });
        await recordAudit(tx, actor, 'key.revoke', { type: 'key', id: row.id }, { before: { revoked_at: null }, after: { revoked_at: row.revoked_at } });
        return toKeyResource(row);
      });
      // committed: this control plane refuses the key from its next request on (others within KEY_CACHE_TTL_MS)
      keyCache?.forget(req.params.id);
      return sent;
    });
  };
