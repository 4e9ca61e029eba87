/**
 * One attempt against real loopback servers: SSRF refusals on the address actually connected to
 * (numeric spellings, IPv6 forms, names resolving to private addresses), error codes, the 1 KB
 * response cap.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@linkplane/sdk';
import { generateWebhookSecret } from '../../shared/index.js';
import { freePort } from '../../shared/testing/index.js';
import { createSafeAgent, safeLookup, type ResolveAll } from './safe-agent.js';
import { envelopeBody, sendDelivery, type OutgoingDelivery } from './send.js';

let server: Server;
let port: number;
let connections = 0;
let requests = 0;
let respond: (res: ServerResponse) => void = (res) => res.end('ok');

beforeAll(async () => {
  server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => respond(res));
  });
  server.on('connection', (s: Socket) => {
    connections++;
    s.unref();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const secret = { id: 'whk_TEST', secret: generateWebhookSecret() };
const delivery = (url: string): OutgoingDelivery => ({
  deliveryId: 'whd_TEST', eventId: '0b6b0f5e-7d0c-4a53-9d0e-2f3a0c1d2e3f', eventType: 'link.created',
  occurredAt: new Date('2026-01-01T00:00:00Z'), dataJson: '{"a": 1}', attempt: 2, url, secrets: [secret],
});

/** A resolver that answers `name` with `addresses` (simulates DNS pointing a public-looking name inside). */
const fakeDns = (map: Record<string, string[]>): ResolveAll => (hostname, cb) => {
  const list = map[hostname];
  if (!list) return cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
  cb(null, list.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })));
};

describe('sendDelivery with private addresses refused', () => {
  const agent = createSafeAgent({
    allowPrivate: false,
    connectTimeoutMs: 1000,
    resolve: fakeDns({ 'rebind.example.com': ['127.0.0.1'], 'mixed.example.com': ['10.0.0.1', '::1'], 'meta.example.com': ['169.254.169.254'] }),
  });
  afterAll(() => agent.close());

  const refused = () => [
    `https://127.0.0.1:${port}/`, `https://2130706433:${port}/`, `https://0x7f.0.0.1:${port}/`, `https://0177.0.0.01:${port}/`,
    `https://127.1:${port}/`, `https://[::1]:${port}/`, `https://[::ffff:127.0.0.1]:${port}/`, `https://[0:0:0:0:0:ffff:7f00:1]:${port}/`,
    `https://rebind.example.com:${port}/`, `https://mixed.example.com:${port}/`, `https://meta.example.com:${port}/latest/meta-data/`,
    `https://169.254.169.254:${port}/`, `https://0.0.0.0:${port}/`,
  ];
  it('refuses every spelling of a private destination before connecting', async () => {
    const before = { connections, requests };
    for (const url of refused()) {
      const r = await sendDelivery(agent, delivery(url), { timeoutMs: 2000, allowPrivate: false });
      expect([url, r.error, r.statusCode]).toEqual([url, 'blocked_address', null]);
    }
    expect({ connections, requests }).toEqual(before);
  });

  it('refuses http:// without connecting', async () => {
    const before = connections;
    const r = await sendDelivery(agent, delivery(`http://rebind.example.com:${port}/`), { timeoutMs: 2000, allowPrivate: false });
    expect(r).toMatchObject({ error: 'scheme_not_allowed', statusCode: null });
    expect(connections).toBe(before);
  });

  it('a refusal never says what a name resolved to', async () => {
    for (const host of ['rebind.example.com', 'mixed.example.com', 'meta.example.com']) {
      const r = await sendDelivery(agent, delivery(`https://${host}:${port}/`), { timeoutMs: 2000, allowPrivate: false });
      expect(r).toMatchObject({ error: 'blocked_address', errorDetail: `${host} does not resolve to a public address` });
      expect(r.errorDetail).not.toMatch(/127\.0\.0\.1|10\.0\.0\.1|::1|169\.254/);
    }
    // an address the caller wrote itself may be named
    const literal = await sendDelivery(agent, delivery(`https://[::1]:${port}/`), { timeoutMs: 2000, allowPrivate: false });
    expect(literal.errorDetail).toBe('::1 is not a public address');
  });

  it('an unknown name reads exactly like a name that resolves inside (no internal-DNS oracle)', async () => {
    const unknown = await sendDelivery(agent, delivery(`https://nowhere.example.com:${port}/`), { timeoutMs: 2000, allowPrivate: false });
    const inside = await sendDelivery(agent, delivery(`https://rebind.example.com:${port}/`), { timeoutMs: 2000, allowPrivate: false });
    const shape = (r: typeof unknown, host: string) => ({ error: r.error, statusCode: r.statusCode, detail: r.errorDetail?.replace(host, '<host>') });
    expect(shape(unknown, 'nowhere.example.com')).toEqual(shape(inside, 'rebind.example.com'));
    expect(unknown).toMatchObject({ error: 'blocked_address', statusCode: null, errorDetail: 'nowhere.example.com does not resolve to a public address' });
  });

  it('a resolver that fails for now is still a dns_failure (worth retrying)', async () => {
    const flaky = createSafeAgent({
      allowPrivate: false, connectTimeoutMs: 1000,
      resolve: (hostname, cb) => cb(Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' }), []),
    });
    try {
      const r = await sendDelivery(flaky, delivery(`https://flaky.example.com:${port}/`), { timeoutMs: 2000, allowPrivate: false });
      expect(r.error).toBe('dns_failure');
    } finally {
      await flaky.close();
    }
  });
});

describe('sendDelivery with private addresses allowed (development)', () => {
  const agent = createSafeAgent({ allowPrivate: true, connectTimeoutMs: 1000, resolve: fakeDns({}) });
  afterAll(() => agent.close());
  it('an unknown name is a plain dns_failure: nothing is hidden where nothing is refused', async () => {
    const r = await sendDelivery(agent, delivery(`http://nowhere.example.com:${port}/`), { timeoutMs: 2000, allowPrivate: true });
    expect(r.error).toBe('dns_failure');
  });
});

describe('safeLookup', () => {
  const resolve = fakeDns({ 'both.example.com': ['10.1.2.3', '93.184.216.34', 'fd00::1', '2606:2800:220:1:248:1893:25c8:1946'] });
  const isPublic = (a: string) => !/^(10\.|fd)/.test(a);
  it('hands net.connect only the allowed addresses of a mixed answer', async () => {
    const all = await new Promise<unknown>((r) => safeLookup(isPublic, resolve)('both.example.com', { all: true }, (_e, a) => r(a)));
    expect(all).toEqual([{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 }]);
    const one = await new Promise<unknown[]>((r) => safeLookup(isPublic, resolve)('both.example.com', { family: 6 }, (_e, a, f) => r([a, f])));
    expect(one).toEqual(['2606:2800:220:1:248:1893:25c8:1946', 6]);
  });
});

describe('sendDelivery to an allowed loopback receiver', () => {
  const agent = createSafeAgent({ allowPrivate: true, connectTimeoutMs: 1000 });
  afterAll(() => agent.close());
  const opts = { timeoutMs: 1000, allowPrivate: true };

  it('sends the envelope with its headers and keeps the answer', async () => {
    let seen: { headers: Record<string, unknown>; body: string } | null = null;
    const prev = server.listeners('request')[0] as (...a: unknown[]) => void;
    server.removeAllListeners('request');
    server.on('request', (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { headers: req.headers, body };
        res.writeHead(202);
        res.end('accepted');
      });
    });
    try {
      const r = await sendDelivery(agent, delivery(`http://127.0.0.1:${port}/in`), opts);
      expect(r).toMatchObject({ statusCode: 202, error: null, responseBody: 'accepted', retryAfterMs: null });
      expect(seen!.body).toBe(envelopeBody(delivery('')));
      expect(JSON.parse(seen!.body)).toEqual({ id: '0b6b0f5e-7d0c-4a53-9d0e-2f3a0c1d2e3f', type: 'link.created', occurred_at: '2026-01-01T00:00:00.000Z', data: { a: 1 }, attempt: 2 });
      expect(seen!.headers).toMatchObject({ 'content-type': 'application/json', 'event-attempt': '2', 'event-type': 'link.created', 'delivery-id': 'whd_TEST' });
      expect((await verifyWebhook(seen!.body, seen!.headers as Record<string, string>, [secret])).attempt).toBe(2);
    } finally {
      server.removeAllListeners('request');
      server.on('request', prev);
    }
  });

  it('keeps only the first 1 KB of a huge answer, without reading it all', async () => {
    respond = (res) => {
      res.writeHead(500);
      res.write('x'.repeat(1000) + '\u0000'.repeat(10) + 'y'.repeat(100));
      const chunk = Buffer.alloc(64 * 1024, 'z');
      let sent = 0;
      const pump = () => {
        while (sent < 50 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (sent < 50 * 1024 * 1024 && !res.destroyed) res.once('drain', pump);
      };
      pump();
    };
    const r = await sendDelivery(agent, delivery(`http://127.0.0.1:${port}/`), opts);
    respond = (res) => res.end('ok');
    expect(r.statusCode).toBe(500);
    expect(r.error).toBe('http_status');
    expect(r.responseBody).toBe('x'.repeat(1000) + 'y'.repeat(14));
    expect(r.durationMs).toBeLessThan(900);
  });

  it('names the failure: refused connection, timeout, reset', async () => {
    const closed = await freePort();
    expect((await sendDelivery(agent, delivery(`http://127.0.0.1:${closed}/`), opts)).error).toBe('connection_refused');
    respond = () => undefined; // never answers
    const t = await sendDelivery(agent, delivery(`http://127.0.0.1:${port}/`), { timeoutMs: 300, allowPrivate: true });
    expect(t.error).toBe('timeout');
    expect(t.durationMs).toBeGreaterThanOrEqual(290);
    respond = (res) => res.socket?.destroy();
    expect((await sendDelivery(agent, delivery(`http://127.0.0.1:${port}/`), opts)).error).toBe('connection_reset');
    respond = (res) => res.end('ok');
  });

  it('reads Retry-After only on 429 and 503', async () => {
    respond = (res) => {
      res.writeHead(429, { 'retry-after': '12' });
      res.end();
    };
    expect((await sendDelivery(agent, delivery(`http://127.0.0.1:${port}/`), opts)).retryAfterMs).toBe(12_000);
    respond = (res) => {
      res.writeHead(500, { 'retry-after': '12' });
      res.end();
    };
    expect((await sendDelivery(agent, delivery(`http://127.0.0.1:${port}/`), opts)).retryAfterMs).toBeNull();
    respond = (res) => res.end('ok');
  });

  it('without a signing secret nothing is sent', async () => {
    const before = requests;
    const r = await sendDelivery(agent, { ...delivery(`http://127.0.0.1:${port}/`), secrets: [] }, opts);
    expect(r.error).toBe('no_signing_secret');
    expect(requests).toBe(before);
  });
});
