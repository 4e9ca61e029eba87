/**
 * Verifying webhook deliveries with WebCrypto only (Node ≥ 20, Deno, browsers, workers). Both
 * signature families linkplane sends over the same raw body bytes are understood:
 *
 * - `X-Signature: t=<unix>,k=<key id>,h=sha256,s=<hex>`, `s = hex(HMAC-SHA256(secret, t + "." +
 *   raw_body))`, the HMAC key being the secret string as shown (`whsec_…`); during a rotation,
 *   one group per active secret, comma-joined.
 * - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …`, key =
 *   base64-decode(secret minus `whsec_`), content `id + "." + t + "." + raw_body`.
 *
 * Every family present must verify and at least one must be present; timestamps more than
 * `toleranceSec` (300) from now are refused; any of several secrets may match (rotation). The
 * comparison is WebCrypto's HMAC verify (constant time). Only then is the body parsed.
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const DEFAULT_TOLERANCE_SEC = 300;

/** A secret string, or a secret with the key id (`k=`) it signs under. */
export type WebhookSecret = string | { id?: string; secret: string };

/** Headers as a fetch `Headers`, or a plain object (Node `req.headers`, any case). */
export type WebhookHeaders = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export interface WebhookEvent<T = unknown> {
  id: string;
  type: string;
  occurred_at: string;
  data: T;
  attempt: number;
}

export type WebhookVerificationCode =
  | 'no_secrets'
  | 'missing_signature'
  | 'malformed_signature'
  | 'timestamp_out_of_range'
  | 'unknown_key'
  | 'signature_mismatch'
  | 'invalid_payload';

/** Why a delivery was refused; `status` is the answer to give (400 malformed, 401 not ours). */
export class WebhookVerificationError extends Error {
  readonly status: 400 | 401;
  constructor(readonly code: WebhookVerificationCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookVerificationError';
    this.status = code === 'malformed_signature' || code === 'missing_signature' || code === 'invalid_payload' ? 400 : 401;
  }
}

export interface VerifyWebhookOptions {
  /** Seconds a signature's timestamp may differ from now (default 300). */
  toleranceSec?: number;
  /** Now, in unix seconds (tests). */
  now?: number;
}

const encoder = new TextEncoder();
const HEX64 = /^[0-9a-f]{64}$/i;
const UNIX = /^\d{1,12}$/;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  let v = bag[name];
  if (v === undefined) {
    const k = Object.keys(bag).find((key) => key.toLowerCase() === name);
    v = k === undefined ? undefined : bag[k];
  }
  return Array.isArray(v) ? v.join(',') : v;
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> | null {
  try {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function hmacKey(raw: Uint8Array<ArrayBuffer>) {
  return globalThis.crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}

async function hmacVerify(key: Uint8Array<ArrayBuffer>, signature: Uint8Array<ArrayBuffer>, content: Uint8Array<ArrayBuffer>): Promise<boolean> {
  return globalThis.crypto.subtle.verify('HMAC', await hmacKey(key), signature, content);
}

interface XSigGroup {
  t: number;
  k: string;
  s: Uint8Array<ArrayBuffer>;
}

function parseXSignature(value: string): XSigGroup[] {
  const groups: Record<string, string>[] = [];
  for (const item of value.split(',')) {
    const part = item.trim();
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new WebhookVerificationError('malformed_signature', `X-Signature item "${part.slice(0, 40)}" is not key=value`);
    const key = part.slice(0, eq);
    if (key === 't' || groups.length === 0) groups.push({});
    groups[groups.length - 1]![key] = part.slice(eq + 1);
  }
  if (groups.length === 0) throw new WebhookVerificationError('malformed_signature', 'X-Signature is empty');
  return groups.map(({ t, k, h, s }) => {
    if (t === undefined || !UNIX.test(t) || !k || h !== 'sha256' || s === undefined || !HEX64.test(s)) {
      throw new WebhookVerificationError('malformed_signature', 'X-Signature must be t=<unix>,k=<key id>,h=sha256,s=<64 hex>');
    }
    return { t: Number(t), k, s: hexBytes(s) };
  });
}

async function verifyXSignature(value: string, body: Uint8Array, secrets: { id?: string; secret: string }[], now: number, tolerance: number): Promise<void> {
  const fresh = parseXSignature(value).filter((g) => Math.abs(now - g.t) <= tolerance);
  if (fresh.length === 0) throw new WebhookVerificationError('timestamp_out_of_range', `X-Signature timestamp is more than ${tolerance} s from now`);
  let candidates = 0;
  for (const g of fresh) {
    for (const s of secrets) {
      if (s.id !== undefined && s.id !== g.k) continue;
      candidates++;
      if (await hmacVerify(encoder.encode(s.secret), g.s, concat(encoder.encode(`${g.t}.`), body))) return;
    }
  }
  if (candidates === 0) throw new WebhookVerificationError('unknown_key', `no secret for key id ${fresh.map((g) => g.k).join(', ')}`);
  throw new WebhookVerificationError('signature_mismatch', 'X-Signature does not match the body');
}

async function verifyStandard(id: string, ts: string, sig: string, body: Uint8Array, secrets: { secret: string }[], now: number, tolerance: number): Promise<void> {
  if (!UNIX.test(ts)) throw new WebhookVerificationError('malformed_signature', 'webhook-timestamp must be unix seconds');
  const t = Number(ts);
  if (Math.abs(now - t) > tolerance) throw new WebhookVerificationError('timestamp_out_of_range', `webhook-timestamp is more than ${tolerance} s from now`);
  const given = sig
    .split(' ')
    .filter((p) => p.startsWith('v1,'))
    .map((p) => base64Bytes(p.slice(3)))
    .filter((b): b is Uint8Array<ArrayBuffer> => b !== null && b.byteLength === 32);
  if (given.length === 0) throw new WebhookVerificationError('malformed_signature', 'webhook-signature has no v1 signature');
  const content = concat(encoder.encode(`${id}.${t}.`), body);
  for (const s of secrets) {
    const key = base64Bytes(s.secret.startsWith(WEBHOOK_SECRET_PREFIX) ? s.secret.slice(WEBHOOK_SECRET_PREFIX.length) : s.secret);
    if (!key || key.byteLength === 0) continue;
    for (const g of given) if (await hmacVerify(key, g, content)) return;
  }
  throw new WebhookVerificationError('signature_mismatch', 'webhook-signature does not match the body');
}

/**
 * Verifies a delivery from its raw body (the exact bytes received: do not parse and re-serialize)
 * and headers against the secrets you hold (newest first is fine; any may match), then parses it.
 * Throws `WebhookVerificationError` with a stable `code` and the `status` to answer.
 */
export async function verifyWebhook<T = unknown>(
  rawBody: string | Uint8Array | ArrayBuffer,
  headers: WebhookHeaders,
  secrets: WebhookSecret | readonly WebhookSecret[],
  opts: VerifyWebhookOptions = {},
): Promise<WebhookEvent<T>> {
  const list = (Array.isArray(secrets) ? secrets : [secrets as WebhookSecret])
    .map((s) => (typeof s === 'string' ? { secret: s } : s))
    .filter((s) => s.secret);
  if (list.length === 0) throw new WebhookVerificationError('no_secrets', 'no secret to verify with');
  const body = typeof rawBody === 'string' ? encoder.encode(rawBody) : rawBody instanceof Uint8Array ? rawBody : new Uint8Array(rawBody);
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const tolerance = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const x = header(headers, 'x-signature');
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sig = header(headers, 'webhook-signature');
  const standard = id !== undefined || ts !== undefined || sig !== undefined;
  if (x === undefined && !standard) throw new WebhookVerificationError('missing_signature', 'neither X-Signature nor webhook-signature is present');
  if (x !== undefined) await verifyXSignature(x, body, list, now, tolerance);
  if (standard) {
    if (!id || !ts || !sig) throw new WebhookVerificationError('missing_signature', 'webhook-id, webhook-timestamp and webhook-signature are all required');
    await verifyStandard(id, ts, sig, body, list, now, tolerance);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch (err) {
    throw new WebhookVerificationError('invalid_payload', 'the body is not JSON', { cause: err });
  }
  const env = parsed as Partial<WebhookEvent<T>> | null;
  if (!env || typeof env !== 'object' || typeof env.id !== 'string' || typeof env.type !== 'string') {
    throw new WebhookVerificationError('invalid_payload', 'the body is not a webhook event (id, type, occurred_at, data, attempt)');
  }
  return env as WebhookEvent<T>;
}
