import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { verifyWebhook, WebhookVerificationError, type WebhookVerificationCode } from '@linkplane/sdk';
import { generateWebhookSecret, signWebhook } from './webhook-sign.js';

const body = JSON.stringify({ id: '0b6b0f5e-7d0c-4a53-9d0e-2f3a0c1d2e3f', type: 'link.created', occurred_at: '2026-01-01T00:00:00.000Z', data: { x: 1 }, attempt: 1 });
const T = 1_767_225_600; // 2026-01-01T00:00:00Z
const ID = 'evt-1';
const current = { id: 'whk_NEW', secret: generateWebhookSecret() };
const old = { id: 'whk_OLD', secret: generateWebhookSecret() };

/** The verifier's verdict: `ok`, or the code of its WebhookVerificationError. */
async function codeOf(verifying: Promise<unknown>): Promise<WebhookVerificationCode | 'ok'> {
  try {
    await verifying;
    return 'ok';
  } catch (err) {
    if (err instanceof WebhookVerificationError) return err.code;
    throw err;
  }
}

describe('generateWebhookSecret', () => {
  it('is whsec_ + base64 of 32 random bytes, different every time', () => {
    const s = generateWebhookSecret();
    expect(s).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(s.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(s);
  });
});

describe('signWebhook', () => {
  it('X-Signature is exactly t=<unix>,k=<key id>,h=sha256,s=hex(hmac(secret, t.body)) (independent HMAC)', () => {
    const h = signWebhook(current, body, T, ID);
    const expected = createHmac('sha256', current.secret).update(`${T}.${body}`).digest('hex');
    expect(h['x-signature']).toBe(`t=${T},k=whk_NEW,h=sha256,s=${expected}`);
    expect(h['webhook-id']).toBe(ID);
    expect(h['webhook-timestamp']).toBe(String(T));
  });

  it('Standard Webhooks signature verifies with the standardwebhooks package, one per secret', () => {
    const now = Math.floor(Date.now() / 1000);
    const h = signWebhook([current, old], body, now, ID);
    expect(h['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(current.secret).verify(body, h)).toEqual(JSON.parse(body));
    expect(new Webhook(old.secret).verify(body, h)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateWebhookSecret()).verify(body, h)).toThrow(/No matching signature/);
  });

  it('signs byte bodies the same as the equal string', () => {
    expect(signWebhook(current, Buffer.from(body), T, ID)).toEqual(signWebhook(current, body, T, ID));
  });

  it('refuses to sign without a secret', () => {
    expect(() => signWebhook([], body, T, ID)).toThrow(/at least one secret/);
  });
});

// The receiver's side is the SDK's verifier (sdk/src/webhooks.ts), the one implementation: here,
// the table of what it accepts and refuses of what signWebhook sends.
describe('verifyWebhook (@linkplane/sdk) over signWebhook', () => {
  const now = T + 10;
  const signed = signWebhook([current, old], body, T, ID);
  const xOnly = { 'x-signature': signed['x-signature'] };
  const stdOnly = { 'webhook-id': ID, 'webhook-timestamp': String(T), 'webhook-signature': signed['webhook-signature'] };

  const cases: { name: string; body?: string; headers: Record<string, string>; secrets: Parameters<typeof verifyWebhook>[2]; code: WebhookVerificationCode | 'ok' }[] = [
    { name: 'both families, current secret with key id', headers: signed, secrets: [current], code: 'ok' },
    { name: 'both families, old secret only (rotation overlap)', headers: signed, secrets: [old], code: 'ok' },
    { name: 'secret given as a bare string', headers: signed, secrets: current.secret, code: 'ok' },
    { name: 'X-Signature only', headers: xOnly, secrets: [old, current], code: 'ok' },
    { name: 'Standard Webhooks only', headers: stdOnly, secrets: [current], code: 'ok' },
    { name: 'header names in any case', headers: { 'X-Signature': signed['x-signature'] }, secrets: [current], code: 'ok' },
    { name: 'no signature headers', headers: {}, secrets: [current], code: 'missing_signature' },
    { name: 'partial Standard Webhooks headers', headers: { 'webhook-id': ID }, secrets: [current], code: 'missing_signature' },
    { name: 'no secrets', headers: signed, secrets: [], code: 'no_secrets' },
    { name: 'garbage X-Signature', headers: { 'x-signature': 'sha256=deadbeef' }, secrets: [current], code: 'malformed_signature' },
    { name: 'wrong hash name', headers: { 'x-signature': signed['x-signature'].replace(/h=sha256/g, 'h=md5') }, secrets: [current], code: 'malformed_signature' },
    { name: 'spaces inside an item', headers: { 'x-signature': `t=${T}, k=whk_NEW, h=sha256, s= ${'a'.repeat(64)}` }, secrets: [current], code: 'malformed_signature' },
    { name: 'unknown key id', headers: xOnly, secrets: [{ id: 'whk_OTHER', secret: current.secret }], code: 'unknown_key' },
    { name: 'wrong secret for the key id', headers: xOnly, secrets: [{ id: 'whk_NEW', secret: generateWebhookSecret() }], code: 'signature_mismatch' },
    { name: 'tampered body', body: body.replace('"x":1', '"x":2'), headers: signed, secrets: [current], code: 'signature_mismatch' },
    { name: 'tampered body (Standard only)', body: `${body} `, headers: stdOnly, secrets: [current], code: 'signature_mismatch' },
    { name: 'X-Signature valid but Standard tampered', headers: { ...signed, 'webhook-id': 'other' }, secrets: [current], code: 'signature_mismatch' },
    { name: 'not an envelope', body: '[1]', headers: signWebhook(current, '[1]', T, ID), secrets: [current], code: 'invalid_payload' },
    { name: 'not JSON', body: 'hello', headers: signWebhook(current, 'hello', T, ID), secrets: [current], code: 'invalid_payload' },
  ];
  cases.forEach((c) => {
    it(`${c.name} → ${c.code}`, async () => {
      expect(await codeOf(verifyWebhook(c.body ?? body, c.headers, c.secrets, { now }))).toBe(c.code);
    });
  });

  it('returns the parsed envelope', async () => {
    expect(await verifyWebhook(body, signed, [current], { now })).toEqual(JSON.parse(body));
  });

  it('several comma-joined X-Signature groups split at each t=, also when joined with ", "', async () => {
    const x = signed['x-signature'];
    expect(x.split(',t=')).toHaveLength(2);
    for (const v of [x, x.replace(',t=', ', t=')]) {
      expect(await codeOf(verifyWebhook(body, { 'x-signature': v }, [old], { now }))).toBe('ok');
      expect(await codeOf(verifyWebhook(body, { 'x-signature': v }, [current], { now }))).toBe('ok');
    }
  });

  it('rejects timestamps more than 300 s away, either direction', async () => {
    expect(await codeOf(verifyWebhook(body, signed, [current], { now: T + 300 }))).toBe('ok');
    expect(await codeOf(verifyWebhook(body, signed, [current], { now: T + 301 }))).toBe('timestamp_out_of_range');
    expect(await codeOf(verifyWebhook(body, signed, [current], { now: T - 301 }))).toBe('timestamp_out_of_range');
    expect(await codeOf(verifyWebhook(body, stdOnly, [current], { now: T + 301 }))).toBe('timestamp_out_of_range');
  });

  it('accepts a Headers object, Node-style arrays and byte bodies', async () => {
    expect(await codeOf(verifyWebhook(body, new Headers(signed), [old], { now }))).toBe('ok');
    const groups = signed['x-signature'].split(',t=');
    expect(await codeOf(verifyWebhook(body, { 'x-signature': [groups[0]!, `t=${groups[1]!}`] }, [old], { now }))).toBe('ok');
    expect(await codeOf(verifyWebhook(Buffer.from(body), signed, [current], { now }))).toBe('ok');
  });
});
