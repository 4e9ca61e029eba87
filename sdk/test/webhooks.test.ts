/**
 * verifyWebhook (WebCrypto) against what the control plane's signer sends — both signature
 * families, rotation, tolerance, tampering — and the Node http, Express-style and Fastify
 * adapters over real HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { expressWebhook, fastifyWebhook, nodeWebhookHandler, verifyWebhook, WebhookVerificationError, type WebhookEvent } from '@linkplane/sdk';
import { generateWebhookSecret, signWebhook } from '../../shared/index.js';

const NOW = 1_780_000_000;
const event = { id: 'evt_1', type: 'link.created', occurred_at: '2026-05-28T00:00:00.000Z', data: { id: 'ln_1' }, attempt: 1 };
const body = JSON.stringify(event);
const secretA = generateWebhookSecret();
const secretB = generateWebhookSecret();

type Headers = Record<string, string>;
const only = (h: Headers, ...names: string[]): Headers => Object.fromEntries(Object.entries(h).filter(([k]) => names.includes(k)));
const XSIG = ['x-signature'];
const STD = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => null, (e: unknown) => e);
  if (!(err instanceof WebhookVerificationError)) throw new Error(`expected a WebhookVerificationError, got ${String(err)}`);
  return err.code;
}

describe('verifyWebhook', () => {
  const signed = signWebhook({ id: 'wh_1', secret: secretA }, body, NOW, 'msg_1') as Headers;

  it('accepts each family alone and both together, and returns the parsed event', async () => {
    for (const headers of [only(signed, ...XSIG), only(signed, ...STD), signed]) {
      expect(await verifyWebhook(body, headers, secretA, { now: NOW })).toEqual(event);
    }
    // bytes and a fetch Headers work as well as a string and a plain object
    expect(await verifyWebhook(new TextEncoder().encode(body), new Headers(signed), [secretB, secretA], { now: NOW })).toEqual(event);
  });

  it('rotation: a delivery signed by old and new secrets verifies with either', async () => {
    const both = signWebhook([{ id: 'wh_new', secret: secretB }, { id: 'wh_old', secret: secretA }], body, NOW, 'msg_2') as Headers;
    expect((await verifyWebhook(body, both, secretA, { now: NOW })).id).toBe('evt_1');
    expect((await verifyWebhook(body, both, { id: 'wh_new', secret: secretB }, { now: NOW })).id).toBe('evt_1');
  });

  it('refuses what it must, with stable codes', async () => {
    const cases: [string, () => Promise<unknown>, string][] = [
      ['tampered body', () => verifyWebhook(body.replace('ln_1', 'ln_2'), only(signed, ...XSIG), secretA, { now: NOW }), 'signature_mismatch'],
      ['tampered body (standard)', () => verifyWebhook(body.replace('ln_1', 'ln_2'), only(signed, ...STD), secretA, { now: NOW }), 'signature_mismatch'],
      ['wrong secret', () => verifyWebhook(body, signed, secretB, { now: NOW }), 'signature_mismatch'],
      ['too old', () => verifyWebhook(body, only(signed, ...XSIG), secretA, { now: NOW + 301 }), 'timestamp_out_of_range'],
      ['too new (standard)', () => verifyWebhook(body, only(signed, ...STD), secretA, { now: NOW - 301 }), 'timestamp_out_of_range'],
      ['key id of another endpoint', () => verifyWebhook(body, only(signed, ...XSIG), { id: 'wh_2', secret: secretA }, { now: NOW }), 'unknown_key'],
      ['no signature', () => verifyWebhook(body, {}, secretA, { now: NOW }), 'missing_signature'],
      ['half the standard headers', () => verifyWebhook(body, only(signed, 'webhook-id'), secretA, { now: NOW }), 'missing_signature'],
      ['garbage X-Signature', () => verifyWebhook(body, { 'x-signature': 't=1,s=zz' }, secretA, { now: NOW }), 'malformed_signature'],
      ['no secrets', () => verifyWebhook(body, signed, [], { now: NOW }), 'no_secrets'],
      ['one family good, the other bad', () => verifyWebhook(body, { ...signed, 'webhook-id': 'msg_other' }, secretA, { now: NOW }), 'signature_mismatch'],
    ];
    const got = [];
    for (const [name, run] of cases) got.push([name, await refusal(run())]);
    expect(got).toEqual(cases.map(([name, , code]) => [name, code]));
    // a 300 s tolerance is inclusive, and it can be changed
    expect((await verifyWebhook(body, only(signed, ...XSIG), secretA, { now: NOW + 300 })).id).toBe('evt_1');
    expect(await refusal(verifyWebhook(body, only(signed, ...XSIG), secretA, { now: NOW + 60, toleranceSec: 30 }))).toBe('timestamp_out_of_range');
    const notJson = signWebhook({ id: 'wh_1', secret: secretA }, 'nope', NOW) as Headers;
    expect(await refusal(verifyWebhook('nope', notJson, secretA, { now: NOW }))).toBe('invalid_payload');
  });
});

describe('webhook adapters over real HTTP', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  async function listen(server: Server): Promise<string> {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  }

  async function post(url: string, payload: string, headers: Headers): Promise<[number, string]> {
    const res = await fetch(url, { method: 'POST', body: payload, headers: { 'content-type': 'application/json', ...headers } });
    return [res.status, await res.text()];
  }

  async function exercise(url: string, received: WebhookEvent[]): Promise<void> {
    const h = signWebhook({ id: 'wh_1', secret: secretA }, body) as Headers;
    expect(await post(url, body, h)).toEqual([204, '']);
    const [status, text] = await post(url, body.replace('ln_1', 'ln_9'), h);
    expect(status).toBe(401);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'signature_mismatch' } });
    expect((await post(url, body, {}))[0]).toBe(400);
    expect(received.map((e) => e.id)).toEqual(['evt_1']);
    // a handler that throws answers 500, so the sender retries
    const failing = signWebhook({ id: 'wh_1', secret: secretA }, JSON.stringify({ ...event, id: 'evt_fail' })) as Headers;
    expect((await post(url, JSON.stringify({ ...event, id: 'evt_fail' }), failing))[0]).toBe(500);
  }

  const onEvent = (received: WebhookEvent[]) => (e: WebhookEvent) => {
    if (e.id === 'evt_fail') throw new Error('handler failed');
    received.push(e);
  };

  it('Node http', async () => {
    const received: WebhookEvent[] = [];
    await exercise(await listen(createServer(nodeWebhookHandler(secretA, onEvent(received)))), received);
  });

  it('Express-style middleware (req, res, next)', async () => {
    const received: WebhookEvent[] = [];
    const mw = expressWebhook([secretB, secretA], onEvent(received));
    await exercise(await listen(createServer((req, res) => mw(req, res, (err) => { res.statusCode = 599; res.end(String(err)); }))), received);
  });

  it('Fastify plugin', async () => {
    const received: WebhookEvent[] = [];
    const app = Fastify();
    await app.register(fastifyWebhook({ path: '/hooks', secrets: secretA, onEvent: onEvent(received) }));
    // the app's other routes still parse JSON
    app.post('/other', async (req) => req.body);
    await app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => app.close());
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await exercise(`${base}/hooks`, received);
    const other = await fetch(`${base}/other`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect(await other.json()).toEqual({ a: 1 });
  });
});
