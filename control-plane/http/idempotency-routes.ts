import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import { recover } from '../idempotency/store.js';
import { authOf } from './request-context.js';
import { errorResponses, Nullable } from './schemas.js';

export const idempotencyRoutes =
  (pool: Pool): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post('/v1/idempotency/recover', {
      schema: {
        tags: ['idempotency'],
        operationId: 'recoverIdempotentResponse', summary: 'Recover the stored response of an earlier request by its Idempotency-Key',
        description: 'For a client that lost the response (timeout, crash): returns what the first request answered, or that it is still in flight. Only the API key that sent the request can recover it.',
        body: Type.Object({ key: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            key: Type.String(),
            state: Type.Union([Type.Literal('in_flight'), Type.Literal('completed')]),
            method: Type.String(),
            path: Type.String(),
            created_at: Type.String({ format: 'date-time' }),
            expires_at: Type.String({ format: 'date-time' }),
            response: Nullable(Type.Object({ status: Type.Integer(), headers: Type.Record(Type.String(), Type.String()), body: Type.Unknown() })),
          }),
          ...errorResponses(400, 401, 404, 429),
        },
      },
    }, async (req) => {
      const auth = authOf(req);
      const rec = await recover(pool, auth.workspaceId, auth.keyId, req.body.key);
      if (!rec) throw errors.idempotency_key_not_found({ key: req.body.key });
      let body: unknown = null;
      if (rec.response) {
        try {
          body = JSON.parse(rec.response.body);
        } catch {
          body = rec.response.body;
        }
      }
      return {
        key: rec.key,
        state: rec.state,
        method: rec.method,
        path: rec.path,
        created_at: rec.created_at.toISOString(),
        expires_at: rec.expires_at.toISOString(),
        response: rec.response ? { status: rec.response.status, headers: rec.response.headers, body } : null,
      };
    });
  };
