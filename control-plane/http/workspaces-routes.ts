/** Workspaces (platform admin: scope `system`): create one with its first admin key, list, get. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import { parseInstant } from '../instant.js';
import { createWorkspace, getWorkspace, listWorkspaces, toWorkspaceResource } from '../workspaces/index.js';
import { toKeyResource } from './keys-routes.js';
import { actorOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { errorResponses, Nullable, PageQuery, Timestamp } from './schemas.js';
import { BOOTSTRAP_WORKSPACE_ID, WORKSPACE_ID_PATTERN } from '../ids.js';

const WorkspaceId = Type.String({ pattern: WORKSPACE_ID_PATTERN, description: `ws_ + 26 Crockford base32 characters (docs/ids.md), or ${BOOTSTRAP_WORKSPACE_ID} for the bootstrap workspace` });
const WORKSPACE_ID = new RegExp(WORKSPACE_ID_PATTERN);

export const Workspace = Type.Object({ id: WorkspaceId, name: Type.String(), created_at: Timestamp }, { $id: 'Workspace' });

export const WorkspaceCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: '^\\S(.*\\S)?$', description: 'unique; no leading or trailing space' }),
    admin_key: Type.Optional(Type.Object(
      {
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        expires_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
      },
      { additionalProperties: false, description: 'the first admin key of the workspace (name defaults to "admin")' },
    )),
  },
  { additionalProperties: false },
);

/** A workspace cursor: the last id seen (a workspace id). */
const encodeCursor = (id: string) => Buffer.from(JSON.stringify({ v: 1, id })).toString('base64url');
function decodeCursor(c: string): string {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as { v?: number; id?: unknown };
    if (v.v === 1 && typeof v.id === 'string' && WORKSPACE_ID.test(v.id)) return v.id;
  } catch {
    // fall through
  }
  throw errors.invalid_cursor({ field: 'cursor' });
}

export const workspacesRoutes =
  (pool: Pool): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.addSchema(Workspace);
    const tags = ['workspaces'];
    app.post('/v1/workspaces', {
      config: { scope: 'system' },
      schema: {
        tags, operationId: 'createWorkspace', summary: 'Create a workspace and its first admin key (platform admin; the secret is returned once)',
        body: WorkspaceCreate,
        response: {
          201: Type.Object({
            id: WorkspaceId, name: Type.String(), created_at: Timestamp,
            admin_key: Type.Ref('Key'),
            secret: Nullable(Type.String({ description: 'the admin key\'s secret: shown once; null in a replay or recover (see `redacted`)' })),
            redacted: Type.Optional(Type.Array(Type.String())),
          }),
          ...errorResponses(400, 401, 403, 409, 422, 429),
        },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      const b = req.body;
      const expires = b.admin_key?.expires_at;
      const expiresAt = expires == null ? null : new Date(parseInstant(expires, 'admin_key.expires_at', 'body'));
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        throw errors.validation_failed({ field: 'admin_key.expires_at', in: 'body', reason: 'not_in_future' }, 'admin_key.expires_at must be in the future');
      }
      return commitAndRespond(req, reply, pool, 201, async (tx) => {
        const { workspace, key, secret } = await createWorkspace(tx, actor, { name: b.name, adminKey: { name: b.admin_key?.name ?? 'admin', expiresAt } });
        return { ...toWorkspaceResource(workspace), admin_key: toKeyResource(key), secret };
      }, (w) => ({ location: `/v1/workspaces/${w.id}` }), ['secret']);
    });

    app.get('/v1/workspaces', {
      config: { scope: 'system' },
      schema: {
        tags, operationId: 'listWorkspaces', summary: 'List workspaces (platform admin)',
        querystring: PageQuery,
        response: { 200: Type.Object({ data: Type.Array(Type.Ref('Workspace')), next_cursor: Nullable(Type.String()) }), ...errorResponses(400, 401, 403, 429) },
      },
    }, async (req) => {
      const after = req.query.cursor ? decodeCursor(req.query.cursor) : null;
      const rows = await listWorkspaces(pool, { limit: req.query.limit + 1, after });
      const more = rows.length > req.query.limit;
      if (more) rows.pop();
      return { data: rows.map(toWorkspaceResource), next_cursor: more ? encodeCursor(rows[rows.length - 1]!.id) : null };
    });

    app.get('/v1/workspaces/:id', {
      config: { scope: 'system' },
      schema: {
        tags, operationId: 'getWorkspace', summary: 'Get a workspace (platform admin)',
        params: Type.Object({ id: WorkspaceId }),
        response: { 200: Type.Ref('Workspace'), ...errorResponses(401, 403, 404, 429) },
      },
    }, async (req) => toWorkspaceResource(await getWorkspace(pool, req.params.id)));
  };
