/**
 * OAuth2 client credentials (RFC 6749 §4.4) and the keys that verify its tokens:
 * - `POST/GET/DELETE /v1/oauth/clients` (keys:admin): clients with a role, scopes, domains and a
 *   rate limit, like API keys; the client_secret is shown once.
 * - `POST /oauth/token`: form-encoded, client authentication by HTTP Basic or in the body (not both);
 *   answers a short-lived JWT, or an RFC 6749 §5.2 error body. A failed client authentication (401
 *   invalid_client) counts toward the same per-address failure limit as a bad API key; an address
 *   past it gets 429 rate_limited with Retry-After before any client lookup.
 * - `GET /.well-known/jwks.json`: the current and previous signing keys (RFC 7517).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { recordAudit } from '../audit/index.js';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import type { RateLimit } from '../keys/key-power.js';
import type { AuthFailureLimit } from '../rate-limit/auth-failure-limit.js';
import { authenticateClient, createClient, issueToken, listClients, revokeClient, toClientResource, type SigningKeys, type TokenSettings } from '../oauth/index.js';
import { decodeIdCursor, encodeIdCursor } from './cursor.js';
import { checkedPower } from './keys-routes.js';
import { actorOf, authOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { errorResponses, Id, IdParams, KeyCreate, Nullable, PageQuery, RoleEnum, ScopeEnum, Timestamp } from './schemas.js';

export const OAuthClient = Type.Object(
  {
    id: Id('oac'),
    client_id: Id('oac'),
    name: Type.String(),
    prefix: Type.String({ description: 'the first characters of the client_secret' }),
    role: RoleEnum,
    scopes: Type.Array(ScopeEnum),
    domains: Nullable(Type.Array(Type.String())),
    rate_limit: Nullable(Type.Object({ burst: Type.Integer(), per_second: Type.Number() })),
    created_at: Timestamp,
  },
  { $id: 'OAuthClient' },
);

const ClientCreate = Type.Omit(KeyCreate, ['expires_at'], { additionalProperties: false });

/** RFC 6749 §5.2 error codes. */
const OAUTH_ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'] as const;
type OAuthErrorCode = (typeof OAUTH_ERRORS)[number];

export const OAuthError = Type.Object(
  {
    error: Type.Unsafe<OAuthErrorCode>({ type: 'string', enum: [...OAUTH_ERRORS] }),
    error_description: Type.Optional(Type.String()),
  },
  { $id: 'OAuthError', description: 'RFC 6749 §5.2 error body (the token endpoint only)' },
);

const TokenRequest = Type.Object(
  {
    grant_type: Type.Optional(Type.String({ description: 'client_credentials' })),
    scope: Type.Optional(Type.String({ description: 'space-separated scopes, a subset of the client\'s (default: all of them)' })),
    client_id: Type.Optional(Type.String({ description: 'when not sent by HTTP Basic' })),
    client_secret: Type.Optional(Type.String({ description: 'when not sent by HTTP Basic' })),
  },
  { additionalProperties: true },
);

const TokenResponse = Type.Object({
  access_token: Type.String({ description: 'a JWT (RFC 9068): iss, aud, sub/client_id, scope, iat, exp, jti; header kid' }),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer(),
  scope: Type.String(),
});

const Jwks = Type.Object({
  keys: Type.Array(Type.Object({ kid: Type.String(), kty: Type.String(), alg: Type.String(), use: Type.String() }, { additionalProperties: true })),
});

/** Form parameters sent more than once (RFC 6749 §3.2: invalid_request). */
const repeated = new WeakMap<object, string[]>();

export interface OAuthDeps {
  pool: Pool;
  keys: SigningKeys;
  tokens: TokenSettings;
  /** The per-address failed-authentication limit the API-key hook uses (keys/auth-hook.ts). */
  authFailures: AuthFailureLimit;
  rateLimits: RateLimit;
}

export const oauthClientRoutes =
  ({ pool, rateLimits }: OAuthDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addSchema(OAuthClient);
    const tags = ['oauth'];
    app.post('/v1/oauth/clients', {
      config: { scope: 'keys:admin' },
      schema: {
        tags, operationId: 'createOAuthClient', summary: 'Create an OAuth2 client (client credentials); the client_secret is returned once',
        body: ClientCreate,
        response: {
          201: Type.Intersect([Type.Ref('OAuthClient'), Type.Object({
            client_secret: Nullable(Type.String({ description: 'shown once; null in a replay or recover (see `redacted`)' })),
            redacted: Type.Optional(Type.Array(Type.String())),
          })]),
          ...errorResponses(400, 401, 403, 409, 422, 429),
        },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      const b = req.body;
      const { scopes, domains, rateLimit } = checkedPower(actor.auth, b, rateLimits);
      return commitAndRespond(req, reply, pool, 201, async (tx) => {
        const { row, secret } = await createClient(tx, { workspaceId: actor.auth.workspaceId, name: b.name, role: b.role, scopes, domains, rateLimit, createdBy: actor.auth.keyId });
        const resource = toClientResource(row);
        await recordAudit(tx, actor, 'oauth_client.create', { type: 'oauth_client', id: row.id }, {
          after: { name: row.name, role: row.role, scopes: row.scopes, domains: row.domains, rate_limit: resource.rate_limit },
        });
        return { ...resource, client_secret: secret };
      }, (c) => ({ location: `/v1/oauth/clients/${c.id}` }), ['client_secret']);
    });

    app.get('/v1/oauth/clients', {
      config: { scope: 'keys:admin' },
      schema: {
        tags, operationId: 'listOAuthClients', summary: 'List active OAuth clients the caller could have created (never their secrets)',
        querystring: PageQuery,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('OAuthClient')), next_cursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 429) },
      },
    }, async (req) => {
      const after = req.query.cursor ? decodeIdCursor(req.query.cursor, 'oac') : null;
      const rows = await listClients(pool, authOf(req), { limit: req.query.limit + 1, after });
      const more = rows.length > req.query.limit;
      if (more) rows.pop();
      return { data: rows.map(toClientResource), next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    });

    app.delete('/v1/oauth/clients/:id', {
      config: { scope: 'keys:admin' },
      schema: {
        tags, operationId: 'revokeOAuthClient', summary: 'Revoke an OAuth client: no new tokens, and its tokens stop working at once',
        params: IdParams('oac'),
        response: { 200: Type.Ref('OAuthClient'), ...errorResponses(401, 403, 404, 429) },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => {
        const row = await revokeClient(tx, actor.auth, req.params.id);
        if (!row) throw errors.oauth_client_not_found({ id: req.params.id });
        await recordAudit(tx, actor, 'oauth_client.revoke', { type: 'oauth_client', id: row.id }, { before: { revoked_at: null }, after: { revoked_at: row.revoked_at } });
        return toClientResource(row);
      });
    });
  };

/** `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1); null when malformed. */
function basicCredentials(header: string): { id: string; secret: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const raw = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = raw.indexOf(':');
  if (colon < 0) return null;
  try {
    return { id: decodeURIComponent(raw.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(raw.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    return null;
  }
}

export const oauthTokenRoutes =
  ({ pool, keys, tokens, authFailures }: OAuthDeps): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addSchema(OAuthError);
    // RFC 6749 §4.4.2: the token request is application/x-www-form-urlencoded (this plugin only)
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16_384 }, (req, body, done) => {
      const params = new URLSearchParams(body as string);
      const out: Record<string, string> = {};
      const dup: string[] = [];
      for (const [k, v] of params) {
        if (k in out) dup.push(k);
        out[k] = v;
      }
      repeated.set(req, dup);
      done(null, out);
    });

    const fail = (reply: FastifyReply, status: 400 | 401, error: OAuthErrorCode, description: string, basic = false) => {
      if (status === 401) authFailures.failed(reply.request.ip); // invalid_client: as a bad API key
      if (basic) reply.header('WWW-Authenticate', 'Basic realm="linkplane"');
      return reply.code(status).header('cache-control', 'no-store').header('pragma', 'no-cache').send({ error, error_description: description });
    };

    app.post('/oauth/token', {
      config: { public: true },
      // before the body is read: an address that failed too often costs no parse and no client lookup
      onRequest: async (req: FastifyRequest, reply: FastifyReply) => authFailures.check(req.ip, reply),
      schema: {
        tags: ['oauth'], operationId: 'issueOAuthToken',
        summary: 'Get an access token (client_credentials grant, RFC 6749 §4.4): client authentication by HTTP Basic or client_id/client_secret in the body',
        consumes: ['application/x-www-form-urlencoded'],
        security: [{ clientBasic: [] }, {}],
        body: TokenRequest,
        response: { 200: TokenResponse, 400: Type.Ref('OAuthError'), 401: Type.Ref('OAuthError'), 429: Type.Ref('Error') },
      },
    }, async (req: FastifyRequest<{ Body: Record<string, string> }>, reply) => {
      const b = req.body ?? {};
      const dup = repeated.get(req) ?? [];
      if (dup.length) return fail(reply, 400, 'invalid_request', `parameters sent more than once: ${dup.join(', ')}`);
      const header = req.headers.authorization;
      const basic = header ? basicCredentials(header) : null;
      if (header && !basic) return fail(reply, 401, 'invalid_client', 'the Authorization header is not HTTP Basic client authentication', true);
      if (basic && (b.client_id !== undefined || b.client_secret !== undefined)) {
        return fail(reply, 400, 'invalid_request', 'authenticate the client by HTTP Basic or in the body, not both');
      }
      const id = basic?.id ?? b.client_id;
      const secret = basic?.secret ?? b.client_secret;
      if (b.grant_type === undefined) return fail(reply, 400, 'invalid_request', 'grant_type is required');
      if (!id || !secret) return fail(reply, 401, 'invalid_client', 'client authentication is required (HTTP Basic, or client_id and client_secret)', true);
      const client = /^oac_[0-9A-Z]{26}$/.test(id) && secret.length <= 256 ? await authenticateClient(pool, id, secret) : null;
      if (!client) return fail(reply, 401, 'invalid_client', 'the client is unknown, revoked, or the secret is wrong', Boolean(basic));
      if (b.grant_type !== 'client_credentials') return fail(reply, 400, 'unsupported_grant_type', 'only grant_type=client_credentials is supported');
      let scopes: string[] = client.scopes;
      if (b.scope !== undefined) {
        const asked = [...new Set(b.scope.split(' ').filter(Boolean))];
        const notHeld = asked.filter((s) => !client.scopes.includes(s as never));
        if (asked.length === 0 || notHeld.length) return fail(reply, 400, 'invalid_scope', notHeld.length ? `the client does not hold: ${notHeld.join(' ')}` : 'scope is empty');
        scopes = asked;
      }
      const token = await issueToken(keys, tokens, client, scopes);
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
        .send({ access_token: token, token_type: 'Bearer', expires_in: tokens.ttlSeconds, scope: scopes.join(' ') });
    });

    app.get('/.well-known/jwks.json', {
      config: { public: true },
      schema: {
        tags: ['oauth'], operationId: 'getJwks', summary: 'The public keys that verify access tokens: the current signing key and previous ones whose tokens may still be valid (RFC 7517)',
        security: [],
        response: { 200: Jwks, '4xx': Type.Ref('Error', { description: 'refused before the route runs (a malformed request, headers too large, …)' }) },
      },
    }, async (_req, reply) => {
      reply.header('cache-control', 'public, max-age=60');
      return (await keys.jwks()) as Static<typeof Jwks>;
    });
  };
