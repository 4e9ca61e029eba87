/**
 * The one way a state-changing route answers: run the change in a transaction, and store the
 * idempotent response in that same transaction, then send exactly the stored bytes — except the
 * fields named in `secretFields`, which are sent once and stored redacted (idempotency/redact.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool, PoolClient } from '../db/pool.js';
import { withTx } from '../db/tx.js';
import { ApiError } from '../../shared/index.js';
import { reserveDeferred } from '../idempotency/idempotency-hook.js';
import { redactSecrets } from '../idempotency/redact.js';
import { complete } from '../idempotency/store.js';

export async function commitAndRespond<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  pool: Pool,
  status: number,
  work: (tx: PoolClient) => Promise<T>,
  headersOf?: (result: T) => Record<string, string>,
  secretFields: readonly string[] = [],
): Promise<FastifyReply> {
  const { body, headers } = await withTx(pool, async (tx) => {
    const result = await work(tx);
    const body = JSON.stringify(result);
    const headers = { 'content-type': 'application/json; charset=utf-8', ...(headersOf ? headersOf(result) : {}) };
    if (req.idem) {
      const stored = secretFields.length ? JSON.stringify(redactSecrets(result as object, secretFields)) : body;
      await complete(tx, req.idem, { status, headers, body: stored });
    }
    return { body, headers };
  });
  if (req.idem) req.idem.completed = true;
  return reply.code(status).headers(headers).send(body);
}

/**
 * Sends an answer a writer already stored for idempotency (the single-statement link writes:
 * links/link-write-one.ts completes the record in its statement), so the onSend hook stores nothing.
 */
export function sendAnswer(req: FastifyRequest, reply: FastifyReply, answer: { status: number; body: string; headers: Record<string, string> }): FastifyReply {
  if (req.idem) req.idem.completed = true;
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}

/**
 * The answer of a route that defers its Idempotency-Key reservation into its write statement
 * (`idempotencyInWrite`: the link create and update). `write` answers, or asks for the reservation
 * first ('reserve': a record exists for the key, or the write goes the transactional way): then the
 * key is reserved as on every route and, when that allows, `write` runs again. A client error
 * raised before the write statement could look for a record (a path taken by the first attempt
 * of this very request, a domain deleted since) gives way to the record: the key is reserved
 * first, so a retry still replays, a mismatch is still 422, and a new 4xx is stored by onSend.
 */
export async function answerDeferred(
  req: FastifyRequest, reply: FastifyReply, pool: Pool, write: () => Promise<{ status: number; body: string; headers: Record<string, string> } | 'reserve'>,
): Promise<FastifyReply> {
  try {
    let answer = await write();
    if (answer === 'reserve') {
      if ((await reserveDeferred(pool, req, reply)) === 'answered') return reply;
      answer = await write();
      if (answer === 'reserve') throw new Error('a write asked for an Idempotency-Key reservation it already had');
    }
    return sendAnswer(req, reply, answer);
  } catch (err) {
    if (req.idem?.deferred && err instanceof ApiError && err.status < 500) {
      if ((await reserveDeferred(pool, req, reply)) === 'answered') return reply;
    }
    throw err;
  }
}
