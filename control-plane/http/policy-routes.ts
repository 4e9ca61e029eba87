import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { recordAudit } from '../audit/record.js';
import type { Pool } from '../db/pool.js';
import { getDomain } from '../domains/domain-service.js';
import { errors } from '../errors.js';
import type { AuthContext } from '../keys/key-store.js';
import { checkPolicy } from '../policies/policy-check.js';
import { DomainPolicy, effectivePolicy, PolicyCheckBody, PolicyCheckResult, PolicyPut } from '../policies/policy-schema.js';
import { canonicalRules, domainOverrides, putDomainOverrides, putWorkspacePolicy, workspacePolicy } from '../policies/policy-store.js';
import { actorOf, authOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { errorResponses, IdParams } from './schemas.js';

/** The workspace policy binds every domain: only a key not limited to domains may set it. */
function unrestricted(auth: AuthContext): void {
  if (auth.domains !== null) throw errors.domain_not_allowed({ reason: 'workspace_policy' }, 'a key limited to domains cannot change the workspace policy');
}

export const policyRoutes =
  (pool: Pool): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['policies'];
    const errs = errorResponses(400, 401, 403, 404, 422, 429);

    app.get('/v1/policy', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'getPolicy', summary: 'The workspace link policy', response: { 200: Type.Ref('Policy'), ...errorResponses(400, 401, 403, 429) } },
    }, async (req) => workspacePolicy(pool, authOf(req).workspaceId));

    app.put('/v1/policy', {
      config: { scope: 'policies:write' },
      schema: {
        tags, operationId: 'putPolicy', summary: 'Replace the workspace link policy',
        description: 'Rules left out are reset to their defaults (off). Existing links are not changed: use POST /v1/policy/check to find those that break it.',
        body: PolicyPut, response: { 200: Type.Ref('Policy'), ...errs },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      unrestricted(actor.auth);
      return commitAndRespond(req, reply, pool, 200, async (tx) => {
        const rules = await putWorkspacePolicy(tx, actor.auth.workspaceId, actor.auth.keyId, req.body);
        await recordAudit(tx, actor, 'policy.update', { type: 'policy', id: actor.auth.workspaceId }, { after: rules });
        return rules;
      });
    });

    app.get('/v1/domains/:id/policy', {
      config: { scope: 'links:read' },
      schema: { tags, operationId: 'getDomainPolicy', summary: "A domain's policy overrides and the policy its links follow", params: IdParams('dom'), response: { 200: DomainPolicy, ...errs } },
    }, async (req) => {
      const auth = authOf(req);
      const domain = await getDomain(pool, auth, req.params.id);
      const overrides = await domainOverrides(pool, auth.workspaceId, domain.id);
      return { domain_id: domain.id, overrides, effective: effectivePolicy(await workspacePolicy(pool, auth.workspaceId), overrides) };
    });

    app.put('/v1/domains/:id/policy', {
      config: { scope: 'policies:write' },
      schema: {
        tags, operationId: 'putDomainPolicy', summary: "Replace a domain's policy overrides",
        description: 'The rules given override the workspace policy for this domain; rules left out follow it.',
        params: IdParams('dom'), body: PolicyPut, response: { 200: DomainPolicy, ...errs },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => {
        const domain = await getDomain(tx, actor.auth, req.params.id, true);
        const overrides = await putDomainOverrides(tx, actor.auth.workspaceId, domain.id, actor.auth.keyId, req.body);
        await recordAudit(tx, actor, 'domain_policy.update', { type: 'domain', id: domain.id }, { after: overrides });
        return { domain_id: domain.id, overrides, effective: effectivePolicy(await workspacePolicy(tx, actor.auth.workspaceId), overrides) };
      });
    });

    app.post('/v1/policy/check', {
      config: { scope: 'policies:write' },
      schema: {
        tags, operationId: 'checkPolicy', summary: 'Live links that break a policy (current or proposed), paged',
        description: 'Changes nothing. Without `policy` the stored workspace policy is checked; with it, as if it were the workspace policy. ' +
          'A page examines at most 20 000 links: it may hold fewer than `limit` results while `next_cursor` is not null.',
        body: PolicyCheckBody, response: { 200: PolicyCheckResult, ...errs },
      },
    }, async (req) => {
      const auth = authOf(req);
      const b = req.body;
      if (b.domain_policy !== undefined && b.domain_id === undefined) throw errors.validation_failed({ field: 'domain_id', reason: 'required' }, 'domain_id is required with domain_policy');
      if (b.domain_id !== undefined) await getDomain(pool, auth, b.domain_id);
      return checkPolicy(pool, auth, {
        policy: b.policy ? canonicalRules(b.policy) : undefined,
        domainId: b.domain_id,
        domainPolicy: b.domain_policy ? canonicalRules(b.domain_policy) : undefined,
        limit: b.limit ?? 100,
        cursor: b.cursor,
      });
    });
  };
