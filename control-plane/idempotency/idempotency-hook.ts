/**
 * Idempotency-Key on mutating calls (design §3): the first response is stored 24 h and replayed
 * (same status, body and headers, plus `Idempotent-Replayed: true`); the same key with another
 * body → 422; while the first is in flight → 409. Routes that change state store their response
 * inside their own transaction (see http/respond.ts); this hook stores everything else (4xx)
 * and frees the key after a 5xx so the client can retry.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { complete, release, reserve } from './store.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Response headers worth replaying. */
export const REPLAYED_HEADERS = ['content-type', 'location'] as const;

/**
 * JSON text of a parsed body with object keys sorted at every depth, so the same JSON sent with
 * fields in another order or other whitespace identifies the same request (issue 15).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const fields = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
    return `{${fields.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What identifies a request: the API key that sends it, method, URL and body — parsed bodies in
 * canonical form (keys sorted), raw uploads (Buffers) byte for byte.
 */
export function requestHash(apiKeyId: string, method: string, url: string, body: unknown): Buffer {
  return createHash('sha256')
    .update(`${apiKeyId}\n${method} ${url}\n`)
    .update(body === undefined ? '' : Buffer.isBuffer(body) ? body : canonicalJson(body))
    .digest();
}

export function registerIdempotency(app: FastifyInstance, db: Queryable): void {
  app.decorateRequest('idem', null);

  app.addHook('preHandler', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (key === undefined || !MUTATING.has(req.method) || !req.auth) return;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) throw errors.invalid_idempotency_key({ field: 'Idempotency-Key', in: 'headers' });
    reply.header('Idempotency-Key', key);
    const result = await reserve(db, {
      workspaceId: req.auth.workspaceId,
      key,
      apiKeyId: req.auth.keyId,
      method: req.method,
      path: req.url,
      hash: requestHash(req.auth.keyId, req.method, req.url, req.body),
    });
    switch (result.kind) {
      case 'reserved':
        req.idem = { workspaceId: req.auth.workspaceId, apiKeyId: req.auth.keyId, key, completed: false };
        return;
      case 'mismatch':
        throw errors.idempotency_key_reused({ key });
      case 'in_flight':
        reply.header('Retry-After', '1');
        throw errors.idempotency_in_flight({ key });
      case 'replay': {
        const { status, headers, body } = result.response;
        for (const [h, v] of Object.entries(headers)) reply.header(h, v);
        reply.header('Idempotent-Replayed', 'true');
        return reply.code(status).send(body);
      }
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idem;
    if (!idem || idem.completed) return payload;
    idem.completed = true;
    if (reply.statusCode >= 500) {
      await release(db, idem).catch((err: unknown) => req.log.warn({ err }, 'could not release idempotency key'));
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const h of REPLAYED_HEADERS) {
      const v = reply.getHeader(h);
      if (v !== undefined) headers[h] = String(v);
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    await complete(db, idem, { status: reply.statusCode, headers, body });
    return payload;
  });
}
