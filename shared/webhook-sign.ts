/**
 * Webhook signatures, both sides: `signWebhook` for senders (the dispatcher, bulk-job callbacks)
 * and `verifyWebhook` for receivers. Two header families cover the same raw body bytes:
 *
 * - `X-Signature: t=<unix>,k=<key id>,h=sha256,s=<hex>` with
 *   `s = hex(HMAC-SHA256(secret, t + "." + raw_body))`, the HMAC key being the secret string
 *   exactly as shown (`whsec_…`, UTF-8). While a rotation overlaps, one such value per active
 *   secret, comma-joined (the same as repeating the header, RFC 9110 §5.3).
 * - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …`
 *   (one per active secret, space-separated), HMAC key = base64-decode(secret minus `whsec_`),
 *   content `id + "." + t + "." + raw_body` — so off-the-shelf verifiers accept our deliveries.
 *
 * Verify before parse, compare in constant time, accept any of several secrets, reject
 * timestamps more than 300 s away from now.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { WebhookEnvelope } from './events.js';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const SIGNATURE_TOLERANCE_SEC = 300;

/** A secret with the key id receivers select it by (`k=`). */
export interface SigningSecret {
  id: string;
  secret: string;
}

/** What a receiver knows: a secret string, or a secret with its key id. */
export type VerifySecret = string | { id?: string; secret: string };

/** A new signing secret: `whsec_` + base64 of 32 random bytes (what Standard Webhooks expects). */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

function asBuffer(body: string | Uint8Array): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The Standard Webhooks key: base64 after the `whsec_` prefix. */
function standardKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret, 'base64');
}

function xSignatureDigest(secret: string, timestamp: number, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}

function standardDigest(secret: string, id: string, timestamp: number, body: Buffer): Buffer {
  return createHmac('sha256', standardKey(secret)).update(`${id}.${timestamp}.`).update(body).digest();
}

/**
 * The signature headers for `body` (send these exact bytes). `secrets` newest first; every one
 * signs, so receivers holding any of them verify. `id` is the webhook-id (keep it across retries).
 */
export function signWebhook(
  secrets: SigningSecret | readonly SigningSecret[],
  body: string | Uint8Array,
  timestamp: number = nowSec(),
  id: string = randomUUID(),
): { 'x-signature': string; 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string } {
  const list = Array.isArray(secrets) ? (secrets as readonly SigningSecret[]) : [secrets as SigningSecret];
  if (list.length === 0) throw new Error('signWebhook needs at least one secret');
  const bytes = asBuffer(body);
  return {
    'x-signature': list.map((s) => `t=${timestamp},k=${s.id},h=sha256,s=${xSignatureDigest(s.secret, timestamp, bytes).toString('hex')}`).join(','),
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': list.map((s) => `v1,${standardDigest(s.secret, id, timestamp, bytes).toString('base64')}`).join(' '),
  };
}

export type WebhookVerifyErrorCode =
  | 'no_secrets'
  | 'missing_signature'
  | 'malformed_signature'
  | 'timestamp_out_of_range'
  | 'unknown_key'
  | 'signature_mismatch'
  | 'invalid_payload';

/** Why a delivery was rejected; `code` is stable, answer 400/401 accordingly. */
export class WebhookVerifyError extends Error {
  constructor(
    readonly code: WebhookVerifyErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'WebhookVerifyError';
  }
}

export type HeaderBag = Record<string, string | string[] | undefined> | { get(name: string): string | null };

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const bag = headers as Record<string, string | string[] | undefined>;
  let v = bag[name];
  if (v === undefined) {
    const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : bag[key];
  }
  return Array.isArray(v) ? v.join(',') : v;
}

interface XSigGroup {
  t: number;
  k: string;
  s: Buffer;
}

const HEX64 = /^[0-9a-f]{64}$/i;
const UNIX = /^\d{1,12}$/;

/** Parses one or more `t=..,k=..,h=sha256,s=..` groups (a new group starts at each `t=`). */
export function parseXSignature(value: string): XSigGroup[] {
  const groups: Record<string, string>[] = [];
  for (const item of value.split(',')) {
    const part = item.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new WebhookVerifyError('malformed_signature', `X-Signature item "${part.slice(0, 40)}" is not key=value`);
    const key = part.slice(0, eq);
    const val = part.slice(eq + 1);
    if (key === 't' || groups.length === 0) groups.push({});
    groups[groups.length - 1]![key] = val;
  }
  if (groups.length === 0) throw new WebhookVerifyError('malformed_signature', 'X-Signature is empty');
  return groups.map((g) => {
    const { t, k, h, s } = g;
    if (t === undefined || !UNIX.test(t) || !k || h !== 'sha256' || s === undefined || !HEX64.test(s)) {
      throw new WebhookVerifyError('malformed_signature', 'X-Signature must be t=<unix>,k=<key id>,h=sha256,s=<64 hex>');
    }
    return { t: Number(t), k, s: Buffer.from(s, 'hex') };
  });
}

function normalizeSecrets(secrets: VerifySecret | readonly VerifySecret[]): { id?: string; secret: string }[] {
  const list = (Array.isArray(secrets) ? secrets : [secrets]) as readonly VerifySecret[];
  return list.filter((s) => (typeof s === 'string' ? s : s.secret)).map((s) => (typeof s === 'string' ? { secret: s } : s));
}

function within(t: number, now: number, tolerance: number): boolean {
  return Math.abs(now - t) <= tolerance;
}

function verifyXSignature(value: string, body: Buffer, secrets: { id?: string; secret: string }[], now: number, tolerance: number): void {
  const groups = parseXSignature(value);
  const fresh = groups.filter((g) => within(g.t, now, tolerance));
  if (fresh.length === 0) throw new WebhookVerifyError('timestamp_out_of_range', `X-Signature timestamp is more than ${tolerance} s from now`);
  let candidates = 0;
  for (const g of fresh) {
    for (const s of secrets) {
      if (s.id !== undefined && s.id !== g.k) continue;
      candidates++;
      if (timingSafeEqual(xSignatureDigest(s.secret, g.t, body), g.s)) return;
    }
  }
  if (candidates === 0) throw new WebhookVerifyError('unknown_key', `no secret for key id ${fresh.map((g) => g.k).join(', ')}`);
  throw new WebhookVerifyError('signature_mismatch', 'X-Signature does not match the body');
}

function verifyStandard(id: string, ts: string, sig: string, body: Buffer, secrets: { secret: string }[], now: number, tolerance: number): void {
  if (!UNIX.test(ts)) throw new WebhookVerifyError('malformed_signature', 'webhook-timestamp must be unix seconds');
  const t = Number(ts);
  if (!within(t, now, tolerance)) throw new WebhookVerifyError('timestamp_out_of_range', `webhook-timestamp is more than ${tolerance} s from now`);
  const given = sig
    .split(' ')
    .filter((p) => p.startsWith('v1,'))
    .map((p) => Buffer.from(p.slice(3), 'base64'))
    .filter((b) => b.length === 32);
  if (given.length === 0) throw new WebhookVerifyError('malformed_signature', 'webhook-signature has no v1 signature');
  for (const s of secrets) {
    const expected = standardDigest(s.secret, id, t, body);
    for (const g of given) if (timingSafeEqual(expected, g)) return;
  }
  throw new WebhookVerifyError('signature_mismatch', 'webhook-signature does not match the body');
}

export interface VerifyOptions {
  /** Seconds a timestamp may differ from now (default 300). */
  toleranceSec?: number;
  /** Unix seconds (tests). */
  now?: number;
}

/**
 * Verifies a delivery from its raw body bytes and headers against the secrets you hold, and only
 * then parses it. Every signature family present (X-Signature, Standard Webhooks) must verify;
 * at least one must be present. Throws `WebhookVerifyError` with a stable `code`.
 */
export function verifyWebhook<T = unknown>(
  rawBody: string | Uint8Array,
  headers: HeaderBag,
  secrets: VerifySecret | readonly VerifySecret[],
  opts: VerifyOptions = {},
): WebhookEnvelope<T> {
  const list = normalizeSecrets(secrets);
  if (list.length === 0) throw new WebhookVerifyError('no_secrets', 'no secret to verify with');
  const body = asBuffer(rawBody);
  const now = opts.now ?? nowSec();
  const tolerance = opts.toleranceSec ?? SIGNATURE_TOLERANCE_SEC;
  const x = header(headers, 'x-signature');
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sig = header(headers, 'webhook-signature');
  const standard = id !== undefined || ts !== undefined || sig !== undefined;
  if (x === undefined && !standard) throw new WebhookVerifyError('missing_signature', 'neither X-Signature nor webhook-signature is present');
  if (x !== undefined) verifyXSignature(x, body, list, now, tolerance);
  if (standard) {
    if (!id || !ts || !sig) throw new WebhookVerifyError('missing_signature', 'webhook-id, webhook-timestamp and webhook-signature are all required');
    verifyStandard(id, ts, sig, body, list, now, tolerance);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new WebhookVerifyError('invalid_payload', 'the body is not JSON', { cause: err });
  }
  const env = parsed as Partial<WebhookEnvelope<T>> | null;
  if (!env || typeof env !== 'object' || typeof env.id !== 'string' || typeof env.type !== 'string') {
    throw new WebhookVerifyError('invalid_payload', 'the body is not a webhook envelope (id, type, occurred_at, data, attempt)');
  }
  return env as WebhookEnvelope<T>;
}
