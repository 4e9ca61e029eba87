/**
 * Webhook signatures, the sender's side (the dispatcher, bulk-job callbacks). Two header families
 * cover the same raw body bytes:
 *
 * - `X-Signature: t=<unix>,k=<key id>,h=sha256,s=<hex>` with
 *   `s = hex(HMAC-SHA256(secret, t + "." + raw_body))`, the HMAC key being the secret string
 *   exactly as shown (`whsec_…`, UTF-8). While a rotation overlaps, one such value per active
 *   secret, comma-joined (the same as repeating the header, RFC 9110 §5.3).
 * - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …`
 *   (one per active secret, space-separated), HMAC key = base64-decode(secret minus `whsec_`),
 *   content `id + "." + t + "." + raw_body` — so off-the-shelf verifiers accept our deliveries.
 *
 * The receiver's side has one implementation: `verifyWebhook` of the SDK (`@linkplane/sdk`,
 * sdk/src/webhooks.ts — WebCrypto, no dependencies), which customers run and this repository's
 * tests and examples use too.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** A secret with the key id receivers select it by (`k=`). */
export interface SigningSecret {
  id: string;
  secret: string;
}

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
