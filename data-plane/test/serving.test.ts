/**
 * A real node (two uWS workers) fed through the links bucket on the shared NATS: status codes and
 * headers for every case, propagation of create/update/disable/expiry/delete, rules end to end,
 * ops endpoints, and SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix, sleep } from '../../shared/testing/index.js';
import { DECISION_SAMPLE } from '../ops/shared-state.js';
import { DOMAIN, LinksBucket, linkSource, request, startTestNode, waitForAnswer, type TestNode } from './harness.js';

const prefix = testPrefix('dpserve');
let bucket: LinksBucket;
let node: TestNode;

const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain({ notFoundUrl: null, expiredUrl: null });
  await bucket.putDomain({ hostname: 'fallback.example.com', notFoundUrl: 'https://example.com/missing', expiredUrl: 'https://example.com/over' });
  const links = [
    linkSource({ path: 'plain' }),
    linkSource({ path: 'perm', redirectStatus: 301 }),
    linkSource({ path: 'temp307', redirectStatus: 307 }),
    linkSource({ path: 'perm308', redirectStatus: 308 }),
    linkSource({ path: 'fwd', forwardQuery: true, destinationUrl: 'https://shop.example.com/p?sale=1' }),
    linkSource({ path: 'off', disabled: true }),
    linkSource({ path: 'old', expiresAt: new Date(Date.now() - 60_000) }),
    linkSource({ path: 'waiting', status: 'pending' }),
    linkSource({ path: 'caf\u00e9/men\u00fc', destinationUrl: 'https://example.com/unicode' }),
    linkSource({ path: 'a/b/c', destinationUrl: 'https://example.com/nested' }),
    linkSource({
      path: 'rules',
      routing: {
        rules: [{ id: 'gb', when: { country: ['GB'] }, url: 'https://uk.example.com/' }],
        device: [{ os: 'iOS', url: 'https://apps.apple.com/app/1' }],
        ab: [{ url: 'https://a.example.com/', weight: 1 }, { url: 'https://b.example.com/', weight: 1 }],
      },
    }),
    linkSource({ path: 'lang', routing: { rules: [{ id: 'de', when: { language: ['de'] }, url: 'https://de.example.com/' }] } }),
  ];
  for (const l of links) await bucket.putLink(l);
  await bucket.putLink(linkSource({ domain: 'fallback.example.com', path: 'off', disabled: true }), { ...DOMAIN, hostname: 'fallback.example.com' });
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { TRUSTED_PROXIES: '127.0.0.1/32' } });
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('status codes and headers', () => {
  const cases: { name: string; path: string; host?: string; method?: string; status: number; location?: string; cache?: string }[] = [
    { name: 'live link → 302, short private cache', path: '/plain', status: 302, location: 'https://www.example.com/landing', cache: 'private, max-age=30' },
    { name: '301 → longer public cache', path: '/perm', status: 301, location: 'https://www.example.com/landing', cache: 'public, max-age=3600' },
    { name: '307', path: '/temp307', status: 307, cache: 'private, max-age=30' },
    { name: '308', path: '/perm308', status: 308, cache: 'public, max-age=3600' },
    { name: 'one trailing slash is the same link', path: '/plain/', status: 302, location: 'https://www.example.com/landing' },
    { name: 'host is case-insensitive, port ignored', path: '/plain', host: 'GO.Example.COM:8081', status: 302 },
    { name: 'trailing dot in host', path: '/plain', host: 'go.example.com.', status: 302 },
    { name: 'percent-encoded unicode path (NFC)', path: '/caf%C3%A9/men%C3%BC', status: 302, location: 'https://example.com/unicode' },
    { name: 'decomposed unicode path normalizes to the same link', path: '/cafe%CC%81/menu%CC%88', status: 302, location: 'https://example.com/unicode' },
    { name: 'nested path', path: '/a/b/c', status: 302, location: 'https://example.com/nested' },
    { name: 'path is case-sensitive', path: '/PLAIN', status: 404 },
    { name: 'forward_query merges, no duplicate key, qr stripped', path: '/fwd?sale=2&x=1&qr=1', status: 302, location: 'https://shop.example.com/p?sale=2&x=1' },
    { name: 'disabled → 410', path: '/off', status: 410 },
    { name: 'expired → 410', path: '/old', status: 410 },
    { name: 'pending → 404', path: '/waiting', status: 404 },
    { name: 'unknown path → 404', path: '/nope', status: 404 },
    { name: 'root → 404', path: '/', status: 404 },
    { name: 'unknown host → 404', path: '/plain', host: 'unknown.example.org', status: 404 },
    { name: 'fallback domain: unknown path → 404 pointing at not_found_url', path: '/nope', host: 'fallback.example.com', status: 404, location: 'https://example.com/missing' },
    { name: 'fallback domain: disabled → 410 pointing at expired_url', path: '/off', host: 'fallback.example.com', status: 410, location: 'https://example.com/over' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await request(node.port, { path: c.path, host: c.host, method: c.method });
      expect(r.status).toBe(c.status);
      if (c.location !== undefined) expect(r.headers.location).toBe(c.location);
      if (c.cache !== undefined) expect(r.headers['cache-control']).toBe(c.cache);
      if (c.status >= 300 && c.status < 400) expect(r.body).toBe('');
      if (c.status >= 400) expect(r.headers['cache-control']).toBe('no-store');
    });
  }

  it('404/410 on a branded domain is a small branded page; with a fallback URL it sends the browser there', async () => {
    const page = await request(node.port, { path: '/nope' });
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('This link does not exist');
    expect(page.body).toContain('go.example.com');
    expect(page.headers.location).toBeUndefined();
    const gone = await request(node.port, { path: '/off' });
    expect(gone.body).toContain('This link has expired');
    const fb = await request(node.port, { path: '/nope', host: 'fallback.example.com' });
    expect(fb.body).toContain('<meta http-equiv="refresh" content="0;url=https://example.com/missing">');
    const unknown = await request(node.port, { path: '/plain', host: 'unknown.example.org' });
    expect(unknown.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(unknown.body).toBe('Not Found\n');
  });

  it('HEAD answers like GET without a body', async () => {
    for (const path of ['/plain', '/perm', '/nope', '/off']) {
      const get = await request(node.port, { path });
      const head = await request(node.port, { path, method: 'HEAD' });
      expect(head.status).toBe(get.status);
      expect(head.headers.location).toBe(get.headers.location);
      expect(head.headers['cache-control']).toBe(get.headers['cache-control']);
      expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
      expect(head.body).toBe('');
    }
  });

  it('other methods → 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await request(node.port, { path: '/plain', method });
      expect(r.status).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(r.headers.location).toBeUndefined();
    }
  });

  it('rules end to end: X-Forwarded-For from a trusted proxy → real geo; iPhone → app store; sticky split', async () => {
    const gb = await request(node.port, { path: '/rules', headers: { 'x-forwarded-for': '81.2.69.142', 'user-agent': 'Mozilla/5.0 (Windows NT 10.0)' } });
    expect(gb.headers.location).toBe('https://uk.example.com/');
    const ios = await request(node.port, { path: '/rules', headers: { 'x-forwarded-for': '8.8.8.8', 'user-agent': IPHONE } });
    expect(ios.headers.location).toBe('https://apps.apple.com/app/1');
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const headers = { 'x-forwarded-for': `8.8.${i}.1`, 'user-agent': 'Mozilla/5.0 (Windows NT 10.0)' };
      const first = await request(node.port, { path: '/rules', headers });
      const again = await request(node.port, { path: '/rules', headers });
      expect(again.headers.location).toBe(first.headers.location);
      seen.add(String(first.headers.location));
    }
    expect(seen).toEqual(new Set(['https://a.example.com/', 'https://b.example.com/']));
  });

  it('rules read User-Agent, X-Forwarded-For and Accept-Language as sent, whatever else the request carries', async () => {
    // the rule path takes these from the framing check's pass over the headers, not from uWS again
    const noise = { 'x-request-id': 'r1', referer: 'https://ref.example.com/', 'x-other': 'y' };
    const de = await request(node.port, { path: '/lang', headers: { ...noise, 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } });
    expect(de.headers.location).toBe('https://de.example.com/');
    const en = await request(node.port, { path: '/lang', headers: { ...noise, 'accept-language': 'en-US' } });
    expect(en.headers.location).toBe('https://www.example.com/landing');
    const none = await request(node.port, { path: '/lang' });
    expect(none.headers.location).toBe('https://www.example.com/landing');
    const gb = await request(node.port, { path: '/rules', headers: { ...noise, 'user-agent': IPHONE, 'x-forwarded-for': '81.2.69.142', 'accept-language': 'de' } });
    expect(gb.headers.location).toBe('https://uk.example.com/');
    const ios = await request(node.port, { path: '/rules', headers: { 'x-forwarded-for': '8.8.8.8', ...noise, 'user-agent': IPHONE } });
    expect(ios.headers.location).toBe('https://apps.apple.com/app/1');
  });
});

describe('propagation through the bucket', () => {
  it('create, update, disable, expiry and delete reach the node within 1 s', async () => {
    const l = linkSource({ path: 'live-edit', destinationUrl: 'https://example.com/v1' });
    await bucket.putLink(l);
    expect(await waitForAnswer(node.port, '/live-edit', 302, 'https://example.com/v1', 1000)).toBeLessThan(1000);
    await bucket.putLink({ ...l, version: 2, destinationUrl: 'https://example.com/v2' });
    expect(await waitForAnswer(node.port, '/live-edit', 302, 'https://example.com/v2', 1000)).toBeLessThan(1000);
    await bucket.putLink({ ...l, version: 3, destinationUrl: 'https://example.com/v2', disabled: true });
    expect(await waitForAnswer(node.port, '/live-edit', 410, undefined, 1000)).toBeLessThan(1000);
    await bucket.putLink({ ...l, version: 4, destinationUrl: 'https://example.com/v4', expiresAt: new Date(Date.now() + 1500) });
    expect(await waitForAnswer(node.port, '/live-edit', 302, 'https://example.com/v4', 1000)).toBeLessThan(1000);
    // expiry needs no message: the node compares expires_at with its clock
    await waitForAnswer(node.port, '/live-edit', 410, undefined, 3000);
    await bucket.putLink({ ...l, version: 5, destinationUrl: 'https://example.com/v5' });
    await waitForAnswer(node.port, '/live-edit', 302, 'https://example.com/v5', 1000);
    await bucket.deleteLink(l.domain, l.path);
    expect(await waitForAnswer(node.port, '/live-edit', 404, undefined, 1000)).toBeLessThan(1000);
  });

  it('a new domain and its fallback settings propagate', async () => {
    await bucket.putDomain({ hostname: 'new.example.net', notFoundUrl: 'https://example.net/404' });
    await waitForAnswer(node.port, '/x', 404, undefined, 1000);
    const t0 = performance.now();
    for (;;) {
      const r = await request(node.port, { path: '/x', host: 'new.example.net' });
      if (r.headers.location === 'https://example.net/404') break;
      expect(performance.now() - t0).toBeLessThan(1000);
      await sleep(5);
    }
  });

  it('a value the node cannot serve replaces (removes) the old version instead of leaving it live', async () => {
    const l = linkSource({ path: 'tampered' });
    await bucket.putLink(l);
    await waitForAnswer(node.port, '/tampered', 302, undefined, 1000);
    const { linkKvKey } = await import('../../shared/index.js');
    await bucket.kv.put(linkKvKey(l.domain, l.path), new TextEncoder().encode(JSON.stringify({ format: 99, kind: 'link' })));
    await waitForAnswer(node.port, '/tampered', 404, undefined, 1000);
    await bucket.kv.put(linkKvKey(l.domain, l.path), new TextEncoder().encode('{"format":1,"kind":"link","destination":"javascript:alert(1)","redirectStatus":302}'));
    await sleep(100);
    expect((await request(node.port, { path: '/tampered' })).status).toBe(404);
  });
});

describe('request ids and the sampled access log (issue 15)', () => {
  it('echoes a valid X-Request-Id on every kind of answer, never makes one up, and does not echo an invalid one', async () => {
    const id = 'req-01J.ab_9:Z';
    for (const [path, method, status] of [['/plain', 'GET', 302], ['/nope', 'GET', 404], ['/off', 'GET', 410], ['/plain', 'HEAD', 302], ['/plain', 'POST', 405], ['/healthz', 'GET', 200], ['/readyz', 'GET', 200]] as const) {
      const r = await request(node.port, { path, method, headers: { 'X-Request-Id': id } });
      expect([path, method, r.status, r.headers['x-request-id']]).toEqual([path, method, status, id]);
      const bare = await request(node.port, { path, method });
      expect([path, method, bare.headers['x-request-id']]).toEqual([path, method, undefined]);
    }
    for (const bad of ['has space', 'semi;colon', 'a/b', 'x'.repeat(129)]) {
      const r = await request(node.port, { path: '/plain', headers: { 'X-Request-Id': bad } });
      expect(r.status).toBe(302);
      expect(r.headers['x-request-id']).toBeUndefined();
    }
    expect((await request(node.port, { path: '/plain', headers: { 'X-Request-Id': 'x'.repeat(128) } })).headers['x-request-id']).toBe('x'.repeat(128));
  });

  it('logs no request lines by default; ACCESS_LOG_SAMPLE=1 logs one per request with its fields', async () => {
    expect(node.proc.logs().filter((l) => l.msg === 'request')).toEqual([]);
    const logged = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { ACCESS_LOG_SAMPLE: '1', WORKERS: '1' } });
    try {
      await waitForAnswer(logged.port, '/plain', 302);
      // the harness's own probes are logged too: only this test's requests are looked at
      const mine = () => logged.proc.logs().filter((l) => l.msg === 'request' && l.path !== '/healthz' && l.path !== '/readyz');
      // lines reach the log asynchronously: wait for waitForAnswer's own 302 line (one worker writes in order)
      // before counting, or it lands after the count and is taken for this test's first request
      for (let i = 0; i < 100 && !mine().some((l) => l.status === 302); i++) await sleep(20);
      const before = mine().length;
      await request(logged.port, { path: '/plain?x=1', headers: { 'X-Request-Id': 'trace-42' } });
      await request(logged.port, { path: '/nope' });
      await request(logged.port, { path: '/plain', method: 'POST' });
      let lines: Record<string, unknown>[] = [];
      for (let i = 0; i < 50 && lines.length < before + 3; i++) {
        await sleep(20);
        lines = mine();
      }
      const [redirect, missing, refused] = lines.slice(before).map(({ time: _t, pid: _p, hostname: _h, us, ...rest }) => {
        expect(typeof us).toBe('number');
        return rest;
      });
      expect(redirect).toEqual({
        level: expect.anything(), name: 'data-plane', module: 'worker', worker: 0, msg: 'request', method: 'get', host: 'go.example.com', path: '/plain',
        status: 302, location: 'https://www.example.com/landing', link_id: expect.any(String), request_id: 'trace-42',
      });
      expect(missing).toEqual({ level: expect.anything(), name: 'data-plane', module: 'worker', worker: 0, msg: 'request', method: 'get', host: 'go.example.com', path: '/nope', status: 404 });
      expect(refused).toMatchObject({ method: 'post', path: '/plain', status: 405 });
      expect(lines.length).toBe(before + 3);
    } finally {
      await logged.destroy();
    }
  });
});

describe('operations', () => {
  it('/healthz and /readyz answer on any host; /metrics is on the operations port', async () => {
    expect((await request(node.port, { path: '/healthz', host: 'anything' })).status).toBe(200);
    expect((await request(node.port, { path: '/readyz', host: 'anything' })).body).toBe('ready\n');
    expect((await request(node.port, { path: '/metrics' })).status).toBe(404);
    const m = await request(node.opsPort, { path: '/metrics' });
    expect(m.headers['content-type']).toContain('text/plain; version=0.0.4');
    for (const name of [
      'linkplane_node_requests_total{status="302"}', 'linkplane_node_decision_seconds_bucket{le="+Inf"}', 'linkplane_node_decision_seconds_count',
      'linkplane_node_sync_lag_entries', 'linkplane_node_sync_applied_sequence', 'linkplane_node_links', 'linkplane_node_lmdb_bytes', 'process_resident_memory_bytes',
    ]) expect(m.body).toContain(`\n${name} `);
    expect(await node.metric('linkplane_node_links')).toBeGreaterThanOrEqual(11);
    expect(await node.metric('linkplane_node_sync_applied_sequence')).toBe(await bucket.lastSeq());
    expect(await node.metric('linkplane_node_sync_lag_entries')).toBe(0);
    expect(await node.metric('linkplane_node_requests_total{status="500"}')).toBe(0);
    // a sample: one request in DECISION_SAMPLE is timed (every 8th of this thread's requests)
    const answered = (m.body.match(/^linkplane_node_requests_total\{[^}]*\} \d+$/gm) ?? []).reduce((n, l) => n + Number(l.split(' ')[1]), 0);
    const timed = await node.metric('linkplane_node_decision_seconds_count');
    expect(timed).toBeGreaterThan(0);
    expect(timed).toBeLessThanOrEqual(Math.floor(answered / DECISION_SAMPLE) + 2); // + one rounding per serving thread
  });

  it('SIGTERM: readyz goes 503, the node drains and exits 0', async () => {
    const l = linkSource({ path: 'drain' });
    await bucket.putLink(l);
    const other = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { SHUTDOWN_GRACE_MS: '1500' } });
    try {
      await waitForAnswer(other.port, '/drain', 302);
      other.proc.signal('SIGTERM');
      // during the grace period open connections are still answered (with Connection: close)
      const r = await request(other.port, { path: '/drain' }).catch(() => null);
      if (r) expect([302, 503]).toContain(r.status);
      const exit = await other.proc.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      const logs = other.proc.logs();
      expect(logs.some((l) => l.msg === 'stopped')).toBe(true);
    } finally {
      await other.destroy();
    }
  });
});
