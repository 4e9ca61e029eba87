/**
 * Idempotency-Key on mutating calls (design §3): the first response is stored 24 h and replayed
 * (same status, body and headers, plus `Idempotent-Replayed: true`); the same key with another
 * body → 422; while the first is in flight → 409. Routes that change state store their response
 * inside their own transaction (see http/respond.ts); this hook stores everything else (4xx)
 * and frees the key after a 5xx so the client can retry.
 *
 * A route with `idempotencyInWrite` (the link create and update) is not reserved here: its one
 * write statement inserts the record, completed, with the change, and writes nothing when the key
 * has a record already; then, or when the request fails before that statement could look, the
 * route reserves through `reserveDeferred` and obeys the verdict exactly as this hook would have
 * (http/respond.ts `answerDeferred`). One round trip per write instead of two.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { complete, release, reserve, type ReserveResult } from './store.js';

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

/**
 * Reserves `req`'s Idempotency-Key and obeys the verdict, as the preHandler does for every route:
 * 'reserved' (carry on), 'answered' (the stored response was sent: a replay); a mismatch (422) or a
 * request in flight (409) is thrown. For the routes that defer their reservation into their write
 * statement (`idempotencyInWrite`), when that statement found a record for the key or could not
 * run (http/respond.ts `answerDeferred`).
 */
export async function reserveDeferred(db: Queryable, req: FastifyRequest, reply: FastifyReply): Promise<'reserved' | 'answered'> {
  const idem = req.idem;
  if (!idem?.deferred) return 'reserved';
  const { deferred } = idem;
  delete idem.deferred;
  const result = await reserve(db, { workspaceId: idem.workspaceId, key: idem.key, apiKeyId: idem.apiKeyId, ...deferred });
  if (result.kind === 'reserved') return 'reserved';
  req.idem = null; // the record is another request's: nothing of this one is stored
  return obey(reply, idem.key, result);
}

function obey(reply: FastifyReply, key: string, result: Exclude<ReserveResult, { kind: 'reserved' }>): 'answered' {
  switch (result.kind) {
    case 'mismatch':
      throw errors.idempotency_key_reused({ key });
    case 'in_flight':
      reply.header('Retry-After', '1');
      throw errors.idempotency_in_flight({ key });
    case 'replay': {
      const { status, headers, body } = result.response;
      for (const [h, v] of Object.entries(headers)) reply.header(h, v);
      reply.header('Idempotent-Replayed', 'true');
      reply.code(status).send(body);
      return 'answered';
    }
  }
}

export function registerIdempotency(app: FastifyInstance, db: Queryable): void {
  app.decorateRequest('idem', null);

  app.addHook('preHandler', async (req, reply) => {
    const key = req.headers['idempotency-key'];
    if (key === undefined || !MUTATING.has(req.method) || !req.auth) return;
    if (typeof key !== 'string' || !KEY_PATTERN.test(key)) throw errors.invalid_idempotency_key({ field: 'Idempotency-Key', in: 'headers' });
    reply.header('Idempotency-Key', key);
    const auth = req.auth;
    const request = { method: req.method, path: req.url, hash: requestHash(auth.keyId, req.method, req.url, req.body) };
    if (req.routeOptions.config.idempotencyInWrite) {
      // the route's write statement writes the record (or finds one and reserves: reserveDeferred)
      req.idem = { workspaceId: auth.workspaceId, apiKeyId: auth.keyId, key, completed: false, deferred: request };
      return;
    }
    const result = await reserve(db, { workspaceId: auth.workspaceId, key, apiKeyId: auth.keyId, ...request });
    if (result.kind === 'reserved') {
      req.idem = { workspaceId: auth.workspaceId, apiKeyId: auth.keyId, key, completed: false };
      return;
    }
    obey(reply, key, result);
    return reply;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const idem = req.idem;
    // deferred and still unwritten: a server error before the write decided; nothing to store or free
    if (!idem || idem.completed || idem.deferred) return payload;
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
