/**
 * The one way a state-changing route answers: run the change in a transaction, and store the
 * idempotent response in that same transaction, then send exactly the stored bytes — except the
 * fields named in `secretFields`, which are sent once and stored redacted (idempotency/redact.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Pool, PoolClient } from '../db/pool.js';
import { withTx } from '../db/tx.js';
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
