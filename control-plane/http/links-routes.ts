import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Pool } from '../db/pool.js';
import { instantIso } from '../instant.js';
import { toResource } from '../links/link-row.js';
import { listLinks } from '../links/link-query.js';
import { approveLink, createLink, deleteLink, getLink, rejectLink, updateLink, type LinkContext } from '../links/link-service.js';
import { LinkWriteCache } from '../links/write-cache.js';
import { actorOf, authOf } from './request-context.js';
import { answerDeferred, commitAndRespond } from './respond.js';
import { LinkCreate, LinkList, LinkListQuery, LinkUpdate } from '../links/link-schema.js';
import { errorResponses, IdParams } from './schemas.js';

const MERGE_PATCH = 'application/merge-patch+json';

/** Date-only filter values mean midnight UTC. */
const dateParam = (v: string | undefined, field: string): string | undefined => (v === undefined ? undefined : instantIso(v, field));

export const linksRoutes =
  (pool: Pool, scheme: string): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['links'];
    const errs = errorResponses(400, 401, 403, 404, 409, 422, 429);
    const one = { 200: Type.Ref('Link'), ...errs };
    const ctx = (req: Parameters<typeof actorOf>[0]): LinkContext => ({ actor: actorOf(req), scheme });
    // domains and policies for single creates and updates (each write checks them: links/write-cache.ts)
    const cache = new LinkWriteCache();

    app.post('/v1/links', {
      config: { scope: 'links:write', idempotencyInWrite: true },
      schema: {
        tags, operationId: 'createLink', summary: 'Create a link', description: 'Send `Idempotency-Key` to make retries safe.',
        body: LinkCreate, response: { 201: Type.Ref('Link'), ...errs },
      },
    }, async (req, reply) => {
      const c = ctx(req);
      return answerDeferred(req, reply, pool, () => createLink(pool, cache, c, req.body, { status: 201, idem: req.idem, headersOf: (l) => ({ location: `/v1/links/${l.id}` }) }));
    });

    app.get('/v1/links', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'listLinks', summary: 'Search links (newest first, cursor-paged)', querystring: LinkListQuery, response: { 200: LinkList, ...errorResponses(400, 401, 403, 429) } },
    }, async (req) => {
      const q = req.query;
      const r = await listLinks(pool, authOf(req), {
        ...q,
        created_from: dateParam(q.created_from, 'created_from'),
        created_to: dateParam(q.created_to, 'created_to'),
        updated_from: dateParam(q.updated_from, 'updated_from'),
        updated_to: dateParam(q.updated_to, 'updated_to'),
      });
      return { data: r.rows.map((row) => toResource(row, scheme)), next_cursor: r.next_cursor, total_estimate: r.total_estimate };
    });

    app.get('/v1/links/:id', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'getLink', summary: 'Get a link', params: IdParams('ln'), response: one },
    }, async (req) => toResource(await getLink(pool, authOf(req), req.params.id), scheme));

    // PATCH also takes application/merge-patch+json (RFC 7396, issue 15): then `metadata` is merged
    // into the stored one (null deletes a key); with application/json it replaces it whole. Own
    // scope, so no other route accepts the merge-patch media type.
    await app.register(async (plain) => {
      const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
      scope.addContentTypeParser(MERGE_PATCH, { parseAs: 'string' }, scope.getDefaultJsonParser('error', 'error'));
      scope.patch('/v1/links/:id', {
        config: { scope: 'links:write', idempotencyInWrite: true },
        schema: {
          tags, operationId: 'updateLink', summary: 'Update a link (null clears a field)',
          description: 'With `Content-Type: application/json` a given `metadata` replaces the stored one whole; with ' +
            '`application/merge-patch+json` (RFC 7396) it is merged into it: keys merge recursively, `null` deletes a key. ' +
            'Other fields behave the same with either type.',
          consumes: ['application/json', MERGE_PATCH], params: IdParams('ln'), body: LinkUpdate, response: one,
        },
      }, async (req, reply) => {
        const mergeMetadata = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === MERGE_PATCH;
        const c = ctx(req);
        return answerDeferred(req, reply, pool, () => updateLink(pool, cache, c, req.params.id, req.body, { mergeMetadata }, { status: 200, idem: req.idem }));
      });
    });

    for (const [decision, decide] of [['approve', approveLink], ['reject', rejectLink]] as const) {
      app.post(`/v1/links/:id/${decision}`, {
        config: { scope: 'links:approve' },
        schema: {
          tags, operationId: `${decision}Link`,
          summary: decision === 'approve' ? 'Approve a pending link (nodes serve it)' : 'Reject a pending link (a new one is deleted, a re-pointed one keeps its approved values)',
          description: 'Only for a link waiting for review (`status: "pending"` under a policy with `require_approval`); the key that made the change cannot decide on it (403 approver_is_requester).',
          params: IdParams('ln'), response: one,
        },
      }, async (req, reply) => {
        const c = ctx(req);
        cache.dropRow(req.params.id); // changed outside the single-statement writer
        return commitAndRespond(req, reply, pool, 200, async (tx) => toResource(await decide(tx, c, req.params.id), scheme));
      });
    }

    app.delete('/v1/links/:id', {
      config: { scope: 'links:write' },
      schema: { tags, operationId: 'deleteLink', summary: 'Delete a link (soft: the path is free again, nodes answer 404)', params: IdParams('ln'), response: one },
    }, async (req, reply) => {
      const c = ctx(req);
      cache.dropRow(req.params.id);
      return commitAndRespond(req, reply, pool, 200, async (tx) => toResource(await deleteLink(tx, c, req.params.id), scheme));
    });
  };
