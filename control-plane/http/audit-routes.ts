/** GET /v1/audit: the workspace's audit trail (scope audit:read; a domain-limited key may not read it). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { listAudit, toAuditResource } from '../audit/index.js';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import { parseInstant } from '../instant.js';
import { decodeIdCursor, encodeIdCursor } from './cursor.js';
import { authOf } from './request-context.js';
import { DateOrTime, errorResponses, Id, IdOf, Nullable, Timestamp, WithDefault } from './schemas.js';
import { BOOTSTRAP_WORKSPACE_ID, ID_BODY, ID_PREFIXES } from '../ids.js';

// a policy's resource is its workspace, and the bootstrap workspace is `ws_default` (docs/ids.md)
const RESOURCE_ID = Type.String({
  pattern: `^(${BOOTSTRAP_WORKSPACE_ID}|(${Object.keys(ID_PREFIXES).join('|')})_${ID_BODY})$`,
  description: 'the resource\'s id (any prefix of docs/ids.md, or ws_default)',
});
const ACTOR_ID = IdOf(['key', 'oac'], 'the API key (`key_…`) or OAuth client (`oac_…`) that acted');


export const AuditQuery = Type.Object(
  {
    resource_type: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'link, domain, key, webhook_endpoint, job, workspace, oauth_client' })),
    resource_id: Type.Optional(RESOURCE_ID),
    actor_key_id: Type.Optional(Id('key', 'the API key that acted')),
    actor_client_id: Type.Optional(Id('oac', 'the OAuth client that acted')),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'e.g. link.create, key.revoke' })),
    from: Type.Optional(DateOrTime),
    to: Type.Optional(DateOrTime),
    limit: WithDefault(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const AuditEntry = Type.Object(
  {
    id: Id('aud'),
    at: Timestamp,
    action: Type.String(),
    resource: Type.Object({ type: Type.String(), id: RESOURCE_ID }),
    actor: Type.Object({
      type: Type.Union([Type.Literal('api_key'), Type.Literal('oauth_client')]),
      id: ACTOR_ID,
      name: Nullable(Type.String()),
    }),
    request: Type.Object({
      id: Nullable(Type.String({ description: 'the request id (X-Request-Id: yours when you sent one, else generated) — a correlation id, not a resource id' })),
      client_address: Nullable(Type.String({ description: 'recorded for the audit only; kept as long as the entry (AUDIT_RETENTION_DAYS)' })),
      user_agent: Nullable(Type.String()),
    }),
    changes: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: '`before`/`after` of the changed fields, or the created resource\'s fields; secrets never' })),
  },
  { $id: 'AuditEntry' },
);

export const auditRoutes =
  (pool: Pool): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addSchema(AuditEntry);
    const schema = {
      tags: ['audit'], querystring: AuditQuery,
      response: { 200: Type.Object({ data: Type.Array(Type.Ref('AuditEntry')), next_cursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 429) },
    };
    const handler = async (req: FastifyRequest<{ Querystring: Static<typeof AuditQuery> }>) => {
      const auth = authOf(req);
      if (auth.domains !== null) throw errors.domain_not_allowed({ reason: 'domain_limited_key' }, 'the audit trail covers every domain; a key limited to domains cannot read it');
      const q = req.query;
      const from = q.from === undefined ? undefined : new Date(parseInstant(q.from, 'from'));
      const to = q.to === undefined ? undefined : new Date(parseInstant(q.to, 'to'));
      const before = q.cursor ? decodeIdCursor(q.cursor, 'aud') : null;
      const rows = await listAudit(pool, auth.workspaceId, {
        resourceType: q.resource_type, resourceId: q.resource_id, actorKeyId: q.actor_key_id, actorClientId: q.actor_client_id, action: q.action, from, to,
      }, { limit: q.limit + 1, before });
      const more = rows.length > q.limit;
      if (more) rows.pop();
      return { data: rows.map(toAuditResource), next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    };
    app.get('/v1/audit', {
      config: { scope: 'audit:read' },
      schema: { ...schema, operationId: 'listAuditEntries', summary: 'Read the audit trail, newest first (append-only; old months are dropped after AUDIT_RETENTION_DAYS)' },
    }, handler);
    // the first name of the route, kept for clients written against it (docs/governance.md, "Deprecation")
    app.get('/v1/audit-log', {
      config: { scope: 'audit:read', deprecated: { since: '2026-12-01', sunset: '2027-06-30', successor: '/v1/audit', notice: '/docs/governance.md#deprecation' } },
      schema: { ...schema, operationId: 'listAuditEntriesDeprecated', summary: 'Deprecated alias of GET /v1/audit (sunset 2027-06-30)', deprecated: true },
    }, handler);
  };
