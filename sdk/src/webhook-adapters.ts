/**
 * Tiny adapters around verifyWebhook for Node `http`, Express and Fastify. They are typed
 * structurally (no framework or Node types imported), read the raw body, verify, call your
 * handler with the event, and answer: 204 when the handler returns, 400/401 with
 * `{"error":{"code","message"}}` when verification fails, 500 when the handler throws (so
 * linkplane retries the delivery). Deliveries are at-least-once: deduplicate by `event.id`.
 */
import { verifyWebhook, WebhookVerificationError, type VerifyWebhookOptions, type WebhookEvent, type WebhookHeaders, type WebhookSecret } from './webhooks.js';

export type WebhookHandler<T = unknown> = (event: WebhookEvent<T>) => unknown;

export interface WebhookAdapterOptions extends VerifyWebhookOptions {
  /** Largest body accepted, in bytes (default 1 MiB). */
  maxBytes?: number;
}

/** The part of a Node `IncomingMessage` (or Express request) the adapters use. */
interface NodeLikeRequest extends AsyncIterable<Uint8Array | string> {
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}
/** The part of a Node `ServerResponse` the adapters use. */
interface NodeLikeResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

class BodyTooLarge extends Error {}

async function readRaw(req: NodeLikeRequest, maxBytes: number): Promise<Uint8Array> {
  // a body already read as bytes or text (express.raw(), express.text(), a rawBody plugin)
  if (req.body instanceof Uint8Array) return req.body;
  if (typeof req.body === 'string') return new TextEncoder().encode(req.body);
  if (req.body !== undefined && req.body !== null && typeof req.body === 'object' && Object.keys(req.body).length > 0) {
    throw new TypeError('the request body was already parsed: mount the webhook route before express.json(), or use express.raw({ type: "*/*" })');
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of req) {
    const bytes = typeof c === 'string' ? new TextEncoder().encode(c) : c;
    size += bytes.byteLength;
    if (size > maxBytes) throw new BodyTooLarge(`the body is larger than ${maxBytes} bytes`);
    chunks.push(bytes);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

interface Answer {
  status: number;
  body?: string;
}

function refusal(status: number, code: string, message: string): Answer {
  return { status, body: JSON.stringify({ error: { code, message } }) };
}

async function handle<T>(raw: () => Promise<Uint8Array>, headers: WebhookHeaders, secrets: WebhookSecret | readonly WebhookSecret[], onEvent: WebhookHandler<T>, opts: WebhookAdapterOptions): Promise<Answer> {
  let event: WebhookEvent<T>;
  try {
    event = await verifyWebhook<T>(await raw(), headers, secrets, opts);
  } catch (err) {
    if (err instanceof WebhookVerificationError) return refusal(err.status, err.code, err.message);
    if (err instanceof BodyTooLarge) return refusal(413, 'body_too_large', err.message);
    throw err;
  }
  try {
    await onEvent(event);
    return { status: 204 };
  } catch {
    return refusal(500, 'handler_failed', 'the webhook handler failed; the delivery will be retried');
  }
}

function send(res: NodeLikeResponse, a: Answer): void {
  res.statusCode = a.status;
  if (a.body !== undefined) res.setHeader('content-type', 'application/json');
  res.end(a.body);
}

/** For `http.createServer(nodeWebhookHandler(secrets, onEvent))` (or one route of it). */
export function nodeWebhookHandler<T = unknown>(secrets: WebhookSecret | readonly WebhookSecret[], onEvent: WebhookHandler<T>, opts: WebhookAdapterOptions = {}) {
  return async (req: NodeLikeRequest, res: NodeLikeResponse): Promise<void> => {
    send(res, await handle(() => readRaw(req, opts.maxBytes ?? 1 << 20), req.headers, secrets, onEvent, opts));
  };
}

/**
 * Express middleware: `app.post('/hooks', expressWebhook(secrets, onEvent))`. Mount it before a
 * JSON body parser (it reads the raw body itself), or after `express.raw({ type: '*\/*' })`.
 */
export function expressWebhook<T = unknown>(secrets: WebhookSecret | readonly WebhookSecret[], onEvent: WebhookHandler<T>, opts: WebhookAdapterOptions = {}) {
  const handler = nodeWebhookHandler(secrets, onEvent, opts);
  return (req: NodeLikeRequest, res: NodeLikeResponse, next: (err?: unknown) => void): void => {
    handler(req, res).catch(next);
  };
}

/** The part of a Fastify instance the plugin uses. */
interface FastifyLike {
  removeAllContentTypeParsers(): unknown;
  addContentTypeParser(
    type: string | string[] | RegExp,
    opts: { parseAs: 'buffer' },
    parser: (req: unknown, body: Uint8Array, done: (err: Error | null, body?: unknown) => void) => void,
  ): unknown;
  post(path: string, handler: (req: { body: unknown; headers: Record<string, string | string[] | undefined> }, reply: FastifyReplyLike) => Promise<unknown>): unknown;
}
interface FastifyReplyLike {
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(body?: string): unknown;
}

/**
 * A Fastify plugin: `app.register(fastifyWebhook({ path: '/hooks', secrets, onEvent }))`. In its
 * own scope it reads JSON bodies as raw bytes (so the signature is checked on what was sent).
 */
export function fastifyWebhook<T = unknown>(cfg: { path: string; secrets: WebhookSecret | readonly WebhookSecret[]; onEvent: WebhookHandler<T> } & WebhookAdapterOptions) {
  return async (app: FastifyLike): Promise<void> => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(/.*/, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post(cfg.path, async (req, reply) => {
      const body = req.body instanceof Uint8Array ? req.body : new Uint8Array(0);
      const a = await handle(async () => body, req.headers, cfg.secrets, cfg.onEvent, cfg);
      reply.code(a.status);
      if (a.body !== undefined) reply.header('content-type', 'application/json');
      return reply.send(a.body);
    });
  };
}
