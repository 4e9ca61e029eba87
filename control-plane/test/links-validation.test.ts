import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

const DOMAIN = 'go.valid.example.com';
const base = { domain: DOMAIN, destination_url: 'https://example.org/ok' };

/** [name, body, status, code, field] */
const cases: [string, Record<string, unknown>, number, string, string][] = [
  ['missing destination', { domain: DOMAIN }, 400, 'validation_failed', 'destination_url'],
  ['missing domain', { destination_url: 'https://example.org/' }, 400, 'validation_failed', 'domain'],
  ['unknown field', { ...base, destination: 'x' }, 400, 'validation_failed', 'destination'],
  ['wrong type', { ...base, forward_query: 'maybe' }, 400, 'validation_failed', 'forward_query'],
  ['bad redirect status', { ...base, redirect_status: 303 }, 400, 'validation_failed', 'redirect_status'],
  ['bad expires_at', { ...base, expires_at: 'tomorrow' }, 400, 'validation_failed', 'expires_at'],
  ['too many tags', { ...base, tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 400, 'validation_failed', 'tags'],
  ['empty tag', { ...base, tags: [''] }, 400, 'validation_failed', 'tags[0]'],
  ['javascript: destination', { ...base, destination_url: 'javascript:alert(document.cookie)' }, 422, 'invalid_url', 'destination_url'],
  ['data: destination', { ...base, destination_url: 'data:text/html,<script>alert(1)</script>' }, 422, 'invalid_url', 'destination_url'],
  ['file: destination', { ...base, destination_url: 'file:///etc/passwd' }, 422, 'invalid_url', 'destination_url'],
  ['credentials', { ...base, destination_url: 'https://admin:hunter2@example.org/' }, 422, 'invalid_url', 'destination_url'],
  ['control char', { ...base, destination_url: 'https://example.org/\u0007' }, 422, 'invalid_url', 'destination_url'],
  ['loopback', { ...base, destination_url: 'http://127.0.0.1:8080/admin' }, 422, 'invalid_url', 'destination_url'],
  ['decimal loopback', { ...base, destination_url: 'http://2130706433/' }, 422, 'invalid_url', 'destination_url'],
  ['hex private', { ...base, destination_url: 'http://0x0a000001/' }, 422, 'invalid_url', 'destination_url'],
  ['metadata IP', { ...base, destination_url: 'http://169.254.169.254/latest/meta-data/' }, 422, 'invalid_url', 'destination_url'],
  ['IPv6 loopback', { ...base, destination_url: 'http://[::1]/' }, 422, 'invalid_url', 'destination_url'],
  ['mapped IPv6 private', { ...base, destination_url: 'http://[::ffff:192.168.0.1]/' }, 422, 'invalid_url', 'destination_url'],
  ['relative URL', { ...base, destination_url: '/just/a/path' }, 422, 'invalid_url', 'destination_url'],
  ['leading slash', { ...base, path: '/deal' }, 422, 'invalid_path', 'path'],
  ['double slash', { ...base, path: 'a//b' }, 422, 'invalid_path', 'path'],
  ['dot segment', { ...base, path: 'a/../b' }, 422, 'invalid_path', 'path'],
  ['reserved', { ...base, path: 'healthz' }, 422, 'invalid_path', 'path'],
  ['control char path', { ...base, path: 'de\u0007al' }, 422, 'invalid_path', 'path'],
  // NUL anywhere is refused before any field rule runs (http/input-guard.ts)
  ['NUL in path', { ...base, path: 'de\u0000al' }, 400, 'validation_failed', 'path'],
  ['bidi override path', { ...base, path: 'evil\u202Egnp.exe' }, 422, 'invalid_path', 'path'],
  ['zero-width path', { ...base, path: 'pay\u200Bpal' }, 422, 'invalid_path', 'path'],
  ['too long path', { ...base, path: 'a'.repeat(201) }, 422, 'invalid_path', 'path'],
  ['unknown domain', { ...base, domain: 'nope.example.com' }, 404, 'domain_not_found', 'domain'],
  ['routing rule url unsafe', { ...base, routing: { rules: [{ when: { country: ['DE'] }, url: 'javascript:1' }] } }, 422, 'invalid_url', 'routing.rules[0].url'],
  ['routing rule without target', { ...base, routing: { rules: [{ when: { country: ['DE'] } }] } }, 422, 'invalid_routing', 'routing.rules[0]'],
  ['routing rule with both targets', { ...base, routing: { rules: [{ when: { country: ['DE'] }, url: 'https://a.com/', variants: [{ url: 'https://b.com/', weight: 1 }] }] } }, 422, 'invalid_routing', 'routing.rules[0]'],
  ['routing rule without conditions', { ...base, routing: { rules: [{ when: {}, url: 'https://a.com/' }] } }, 422, 'invalid_routing', 'routing.rules[0].when'],
  ['bad country', { ...base, routing: { rules: [{ when: { country: ['Germany'] }, url: 'https://a.com/' }] } }, 400, 'validation_failed', 'routing.rules[0].when.country[0]'],
  ['unknown OS', { ...base, routing: { rules: [{ when: { os: ['BeOS'] }, url: 'https://a.com/' }] } }, 422, 'invalid_routing', 'routing.rules[0].when.os[0]'],
  ['bad CIDR', { ...base, routing: { rules: [{ when: { ip: ['10.0.0.0/33'] }, url: 'https://a.com/' }] } }, 422, 'invalid_routing', 'routing.rules[0].when.ip[0]'],
  ['bad timezone', { ...base, routing: { rules: [{ when: { time: { hours: [9, 17], timezone: 'Mars/Olympus' } }, url: 'https://a.com/' }] } }, 422, 'invalid_routing', 'routing.rules[0].when.time.timezone'],
  ['empty time window', { ...base, routing: { rules: [{ when: { time: { from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z' } }, url: 'https://a.com/' }] } }, 422, 'invalid_routing', 'routing.rules[0].when.time'],
  ['zero A/B weights', { ...base, routing: { ab: [{ url: 'https://a.com/', weight: 0 }] } }, 422, 'invalid_routing', 'routing.ab'],
  ['negative weight', { ...base, routing: { ab: [{ url: 'https://a.com/', weight: -1 }] } }, 400, 'validation_failed', 'routing.ab[0].weight'],
  ['duplicate variant id', { ...base, routing: { ab: [{ id: 'x', url: 'https://a.com/', weight: 1 }, { id: 'x', url: 'https://b.com/', weight: 1 }] } }, 422, 'invalid_routing', 'routing.ab[1].id'],
  ['A/B to private IP', { ...base, routing: { ab: [{ url: 'http://10.1.1.1/', weight: 1 }] } }, 422, 'invalid_url', 'routing.ab[0].url'],
  ['huge metadata', { ...base, metadata: { blob: 'x'.repeat(20_000) } }, 400, 'validation_failed', 'metadata'],
];

describe('link validation (table-driven): clear 4xx, field named, nothing written', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('links_validation');
    await createDomain(h, DOMAIN);
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(cases)('%s', async (_name, payload, status, code, field) => {
    const r = await h.req({ method: 'POST', url: '/v1/links', payload });
    expect({ status: r.statusCode, code: r.json().error?.code, field: r.json().error?.details?.field }).toEqual({ status, code, field });
    expect(typeof r.json().error.message).toBe('string');
  });

  // look-alike links: each renders as `paypal`
  it.each(['00ad', '034f', '115f', '180e', '3164', 'ffa0', '200d', '2066', 'fe0f', 'e0041'])(
    'a path with invisible U+%s is refused on create',
    async (hex) => {
      const path = `pay${String.fromCodePoint(parseInt(hex, 16))}pal`;
      const created = await h.req({ method: 'POST', url: '/v1/links', payload: { ...base, path } });
      expect(created.statusCode).toBe(422);
      // zero-width joiner and bidi isolates were refused before as control characters, and still are
      const reason = hex === '200d' || hex === '2066' ? 'control_character' : 'invisible_character';
      expect(created.json().error).toMatchObject({ code: 'invalid_path', details: { field: 'path', reason } });
    },
  );

  it('wrote nothing for any rejected request', async () => {
    const counts = await h.pool.query<{ links: string; outbox: string; events: string }>(
      `SELECT (SELECT count(*) FROM links) AS links, (SELECT count(*) FROM link_outbox WHERE kv_key LIKE 'l.%') AS outbox,
              (SELECT count(*) FROM events) AS events`,
    );
    expect(counts.rows[0]).toEqual({ links: '0', outbox: '0', events: '0' });
  });

  it('a path with an invisible character is refused on update too', async () => {
    const made = await h.req({ method: 'POST', url: '/v1/links', payload: { ...base, path: 'visible' } });
    expect(made.statusCode).toBe(201);
    const r = await h.req({ method: 'PATCH', url: `/v1/links/${made.json().id}`, payload: { path: 'pay\u3164pal' } });
    expect(r.statusCode).toBe(422);
    expect(r.json().error).toMatchObject({ code: 'invalid_path', details: { field: 'path', reason: 'invisible_character' } });
    const kept = await h.req({ method: 'GET', url: `/v1/links/${made.json().id}` });
    expect(kept.json().path).toBe('visible');
  });

  it('accepts a full routing definition and compiles it', async () => {
    const r = await h.req({
      method: 'POST', url: '/v1/links',
      payload: {
        ...base, path: 'routed',
        routing: {
          rules: [
            { id: 'sg-ios', when: { country: ['sg'], os: ['iOS'], device: ['mobile'] }, url: 'https://apps.apple.com/app' },
            { when: { language: ['de'], ip: ['10.0.0.0/8', '2001:db8::/32'], query: { src: 'tw' } }, variants: [{ url: 'https://a.com/', weight: 1 }, { url: 'https://b.com/', weight: 3 }] },
            { when: { time: { from: '2030-01-01T00:00:00Z', to: '2030-02-01T00:00:00Z', days: [1, 2, 3, 4, 5], hours: [9, 17], timezone: 'Asia/Singapore' } }, url: 'https://c.com/' },
          ],
          geo: [{ country: 'SG', url: 'https://x.com/sg' }],
          device: [{ os: 'Android', url: 'https://play.google.com/store' }],
          ab: [{ weight: 60, url: 'https://x.com/variant-a' }, { weight: 40, url: 'https://x.com/variant-b' }],
        },
      },
    });
    expect(r.statusCode).toBe(201);
    const { rows } = await h.pool.query<{ payload: Buffer }>(`SELECT payload FROM link_outbox WHERE op = 'put' AND kv_key LIKE 'l.%' ORDER BY seq DESC LIMIT 1`);
    const c = JSON.parse(rows[0]!.payload.toString());
    expect(c.rules.map((x: { id: string }) => x.id)).toEqual(['sg-ios', 'r2', 'r3', 'r4', 'r5']);
    expect(c.rules[1].when).toContainEqual({ type: 'ip', cidrs: ['10.0.0.0/8', '2001:db8::/32'] });
    expect(c.ab.map((v: { cumulative: number }) => v.cumulative)).toEqual([60, 100]);
    expect(c.needs).toEqual({ country: true, userAgent: true, language: true, ip: true, query: true, visitor: true });
  });
});
