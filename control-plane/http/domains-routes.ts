import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Pool } from '../db/pool.js';
import { toDomainResource } from '../domains/domain-row.js';
import { createDomain, deleteDomain, getDomain, listDomains, updateDomain } from '../domains/domain-service.js';
import { decodeIdCursor, encodeIdCursor } from './cursor.js';
import { actorOf, authOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { DomainCreate, DomainUpdate, errorResponses, IdParams, Nullable, PageQuery } from './schemas.js';

export const domainsRoutes =
  (pool: Pool): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['domains'];
    const errs = errorResponses(400, 401, 403, 404, 409, 422, 429);
    const one = { 200: Type.Ref('Domain'), ...errs };

    app.post('/v1/domains', {
      config: { scope: 'links:write' },
      schema: { tags, operationId: 'createDomain', summary: 'Register a branded domain', body: DomainCreate, response: { 201: Type.Ref('Domain'), ...errs } },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 201, async (tx) => toDomainResource(await createDomain(tx, actor, req.body)),
        (d) => ({ location: `/v1/domains/${d.id}` }));
    });

    app.get('/v1/domains', {
      config: { scope: 'links:read' },
      schema: {
        tags, operationId: 'listDomains', summary: 'List domains', querystring: PageQuery,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Domain')), next_cursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 429) },
      },
    }, async (req) => {
      const after = req.query.cursor ? decodeIdCursor(req.query.cursor, 'dom') : null;
      const rows = await listDomains(pool, authOf(req), { limit: req.query.limit + 1, after });
      const more = rows.length > req.query.limit;
      if (more) rows.pop();
      return { data: rows.map(toDomainResource), next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    });

    app.get('/v1/domains/:id', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'getDomain', summary: 'Get a domain', params: IdParams('dom'), response: one },
    }, async (req) => toDomainResource(await getDomain(pool, authOf(req), req.params.id)));

    app.patch('/v1/domains/:id', {
      config: { scope: 'links:write' },
      schema: { tags, operationId: 'updateDomain', summary: 'Update a domain (UTM template or default status changes recompile its links)', params: IdParams('dom'), body: DomainUpdate, response: one },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => toDomainResource(await updateDomain(tx, actor, req.params.id, req.body)));
    });

    app.delete('/v1/domains/:id', {
      config: { scope: 'links:write' },
      schema: { tags, operationId: 'deleteDomain', summary: 'Delete a domain without live links', params: IdParams('dom'), response: one },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => toDomainResource(await deleteDomain(tx, actor, req.params.id)));
    });
  };
