/**
 * One delivery attempt: build the envelope bytes, sign exactly those bytes, POST them with a
 * deadline, keep the first 1 KB of the answer, and name what went wrong with a stable code.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_URL_FULL } from '@opentelemetry/semantic-conventions';
import { request, type Dispatcher } from 'undici';
import { signWebhook, type SigningSecret } from '../../shared/index.js';
import { startSpanFrom, traceparentOf } from '../tracing/index.js';
import { classifyStatus, type AttemptError, type AttemptResult } from './outcome.js';
import { parseRetryAfter } from './retry-policy.js';

export interface OutgoingDelivery {
  deliveryId: string;
  eventId: string;
  eventType: string;
  occurredAt: Date;
  /** The event's data as JSON text (spliced into the envelope as is). */
  dataJson: string;
  /** Event-Attempt: attempts made so far including this one. */
  attempt: number;
  url: string;
  /** Active secrets, newest first. */
  secrets: SigningSecret[];
  /** The trace this delivery continues (the event's `traceparent`), null for none. */
  traceparent?: string | null;
}

export interface SendOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  /** The attempt's span name (default `webhook deliver`; job callbacks: `job callback`). */
  spanName?: string;
}

export const RESPONSE_KEEP_BYTES = 1024;
export const USER_AGENT = 'linkplane-webhooks/1.0';

/** `{"id","type","occurred_at","data","attempt"}` — data spliced in without a parse/serialize round. */
export function envelopeBody(d: Pick<OutgoingDelivery, 'eventId' | 'eventType' | 'occurredAt' | 'dataJson' | 'attempt'>): string {
  return `{"id":${JSON.stringify(d.eventId)},"type":${JSON.stringify(d.eventType)},"occurred_at":"${d.occurredAt.toISOString()}","data":${d.dataJson},"attempt":${d.attempt}}`;
}

export function deliveryHeaders(d: OutgoingDelivery, body: string, now = new Date()): Record<string, string> {
  const t = Math.floor(now.getTime() / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'event-id': d.eventId,
    'event-type': d.eventType,
    'event-attempt': String(d.attempt),
    'sent-at': now.toISOString(),
    'delivery-id': d.deliveryId,
    ...signWebhook(d.secrets, body, t, d.eventId),
  };
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/;

/** Maps a thrown error (walking its causes) to a stable code and a readable detail. */
export function classifyError(err: unknown): { error: AttemptError; detail: string } {
  const detail = err instanceof Error ? err.message : String(err);
  for (let e = err as { code?: unknown; name?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    const name = typeof e.name === 'string' ? e.name : '';
    if (code === 'EBLOCKEDADDRESS') return { error: 'blocked_address', detail };
    if (name === 'TimeoutError' || name === 'AbortError' || /^UND_ERR_(HEADERS|BODY|CONNECT)_TIMEOUT$/.test(code) || code === 'ETIMEDOUT') {
      return { error: 'timeout', detail };
    }
    if (code === 'ECONNREFUSED') return { error: 'connection_refused', detail };
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return { error: 'connection_reset', detail };
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') return { error: 'dns_failure', detail };
    if (TLS_CODES.test(code)) return { error: 'tls_error', detail };
  }
  return { error: 'network_error', detail };
}

/** Postgres text cannot hold NUL; a cut multi-byte character becomes U+FFFD. */
function keepText(bytes: Buffer): string {
  return bytes.toString('utf8').replaceAll('\u0000', '');
}

async function readHead(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= RESPONSE_KEEP_BYTES) break; // leaving the loop destroys the stream: the rest is never read
  }
  return keepText(Buffer.concat(chunks).subarray(0, RESPONSE_KEEP_BYTES));
}

/** The URL without query or fragment (they may hold a receiver's token): what a span records. */
function urlForSpan(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * One attempt as a CLIENT span continuing the event's trace; the request's `traceparent` header
 * names that span, so the receiver's own spans join the trace. Export off: the header passes the
 * event's trace context on unchanged (none: no header).
 */
export async function sendDelivery(agent: Dispatcher, d: OutgoingDelivery, opts: SendOptions): Promise<AttemptResult> {
  const span = startSpanFrom(d.traceparent, opts.spanName ?? 'webhook deliver', {
    kind: SpanKind.CLIENT,
    attributes: {
      [ATTR_HTTP_REQUEST_METHOD]: 'POST',
      [ATTR_URL_FULL]: urlForSpan(d.url),
      'linkplane.delivery.id': d.deliveryId,
      'linkplane.event.id': d.eventId,
      'linkplane.event.type': d.eventType,
      'linkplane.delivery.attempt': d.attempt,
    },
  });
  const r = await attempt(agent, d, opts, traceparentOf(span));
  if (r.statusCode !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, r.statusCode);
  if (r.error !== null) {
    span.setAttribute(ATTR_ERROR_TYPE, r.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: r.errorDetail ?? r.error });
  }
  span.end();
  return r;
}

async function attempt(agent: Dispatcher, d: OutgoingDelivery, opts: SendOptions, traceparent: string | null): Promise<AttemptResult> {
  const startedAt = new Date();
  const t0 = performance.now();
  const done = (r: Omit<AttemptResult, 'startedAt' | 'durationMs'>): AttemptResult => ({ startedAt, durationMs: Math.round(performance.now() - t0), ...r });
  const fail = (error: AttemptError, errorDetail: string) => done({ statusCode: null, error, errorDetail, responseBody: null, retryAfterMs: null });

  if (d.secrets.length === 0) return fail('no_signing_secret', 'the endpoint has no active signing secret');
  if (!opts.allowPrivate && !d.url.startsWith('https://')) return fail('scheme_not_allowed', 'webhook URLs must use https');
  const body = envelopeBody(d);
  const headers = deliveryHeaders(d, body);
  if (traceparent) headers.traceparent = traceparent;
  try {
    const res = await request(d.url, {
      method: 'POST',
      headers,
      body,
      dispatcher: agent,
      // the signal is the deadline; undici's own timers are coarse (they can fire ~100 ms early), so
      // they only back it up
      signal: AbortSignal.timeout(opts.timeoutMs),
      headersTimeout: opts.timeoutMs + 1000,
      bodyTimeout: opts.timeoutMs + 1000,
    });
    const responseBody = await readHead(res.body);
    const error = classifyStatus(res.statusCode);
    return done({
      statusCode: res.statusCode,
      error,
      errorDetail: error === 'redirect_not_followed' ? `redirect to ${String(res.headers.location ?? '(no location)')} not followed` : null,
      responseBody,
      retryAfterMs: res.statusCode === 429 || res.statusCode === 503 ? parseRetryAfter(res.headers['retry-after']) : null,
    });
  } catch (err) {
    const c = classifyError(err);
    return fail(c.error, c.detail);
  }
}
