import { describe, expect, it } from 'vitest';
import type { CompiledLink, Needs } from '../shared/index.js';
import { gatherFacts, plainFacts } from './facts.js';
import { parseIp } from './ip.js';
import type { DomainRecord } from './link-record.js';
import { resolve, type Decision } from './resolve.js';
import { UA, compiled, compiledDomain, domainRecord, realFactDeps, record } from './test/fixtures.js';

const deps = realFactDeps();
const NO_NEEDS: Needs = { country: false, userAgent: false, language: false, ip: false, query: false, visitor: false };
const NOW = Date.parse('2026-03-02T12:00:00Z');

interface Visit {
  ip?: string;
  ua?: string;
  lang?: string;
  query?: string;
  host?: string;
  path?: string | null;
  now?: number;
  domain?: DomainRecord | null;
}

/** The node's path: facts gathered as the link's `needs` ask (real GeoLite2, real UA parsing), then resolve. */
function visit(link: CompiledLink | null, v: Visit = {}): Decision {
  const rec = link ? record(link) : null;
  const headers: Record<string, string> = { 'user-agent': v.ua ?? UA.windows, 'accept-language': v.lang ?? '' };
  const req = { getHeader: (h: string) => headers[h] ?? '' };
  const query = v.query ?? '';
  const facts = rec?.routing ? gatherFacts(req, () => parseIp(v.ip ?? '203.0.113.7'), query, rec.routing.needs, deps) : plainFacts(query);
  return resolve(
    { host: v.host ?? 'go.example.com', path: v.path === undefined ? (link?.path ?? 'x') : v.path, link: rec, domain: v.domain ?? null },
    facts,
    v.now ?? NOW,
  );
}

function location(d: Decision): string | null {
  return d.kind === 'redirect' ? d.location : null;
}

describe('resolve: status, Location, Cache-Control', () => {
  const cases: { name: string; link: CompiledLink; v?: Visit; status: number; location?: string | null; cache?: string }[] = [
    { name: 'default 302, short private cache', link: compiled(), status: 302, location: 'https://www.example.com/landing', cache: 'private, max-age=30' },
    { name: '301 plain link: public, longer', link: compiled({ redirectStatus: 301 }), status: 301, cache: 'public, max-age=3600' },
    { name: '308 plain link', link: compiled({ redirectStatus: 308 }), status: 308, cache: 'public, max-age=3600' },
    { name: '307 temporary', link: compiled({ redirectStatus: 307 }), status: 307, cache: 'private, max-age=30' },
    {
      name: '301 with rules is private (the answer depends on the visitor)',
      link: compiled({ redirectStatus: 301, routing: { geo: [{ country: 'SG', url: 'https://sg.example.com/' }] } }),
      status: 301,
      cache: 'private, max-age=3600',
    },
    {
      name: 'cache never outlives the expiry',
      link: compiled({ redirectStatus: 301, expiresAt: new Date(NOW + 10_500) }),
      status: 301,
      cache: 'public, max-age=10',
    },
    { name: 'domain default status applies', link: compiled({}, { ...compiledDomainSettings(), defaultRedirectStatus: 307 }), status: 307 },
    { name: 'UTM merged into the destination', link: compiled({ utm: { source: 'email', campaign: 'spring' } }), status: 302, location: 'https://www.example.com/landing?utm_source=email&utm_campaign=spring' },
    { name: 'disabled → 410', link: compiled({ disabled: true }), status: 410 },
    { name: 'expired → 410', link: compiled({ expiresAt: new Date(NOW - 1) }), status: 410 },
    { name: 'expiring exactly now → 410', link: compiled({ expiresAt: new Date(NOW) }), status: 410 },
    { name: 'not yet expired → 302', link: compiled({ expiresAt: new Date(NOW + 1) }), status: 302 },
    { name: 'pending → 404', link: compiled({ status: 'pending' }), status: 404 },
    { name: 'query not forwarded by default', link: compiled(), v: { query: 'a=1' }, status: 302, location: 'https://www.example.com/landing' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = visit(c.link, c.v);
      expect(d.status).toBe(c.status);
      if (c.location !== undefined) expect(location(d)).toBe(c.location);
      if (c.cache !== undefined) expect(d.kind === 'redirect' && d.cacheControl).toBe(c.cache);
    });
  }

  it('gone and not-found carry the domain fallbacks; unknown hosts carry none', () => {
    const dom = domainRecord(compiledDomain({ notFoundUrl: 'https://example.com/missing', expiredUrl: 'https://example.com/over' }));
    expect(visit(compiled({ disabled: true }), { domain: dom })).toMatchObject({ kind: 'gone', status: 410, reason: 'disabled', fallbackUrl: 'https://example.com/over' });
    expect(visit(compiled({ expiresAt: new Date(NOW - 1) }), { domain: dom })).toMatchObject({ kind: 'gone', reason: 'expired', fallbackUrl: 'https://example.com/over' });
    expect(visit(null, { domain: dom })).toMatchObject({ kind: 'not_found', status: 404, hostname: 'go.example.com', fallbackUrl: 'https://example.com/missing' });
    expect(visit(compiled({ status: 'pending' }), { domain: dom })).toMatchObject({ kind: 'not_found', fallbackUrl: 'https://example.com/missing' });
    expect(visit(null, { domain: domainRecord(compiledDomain()) })).toMatchObject({ kind: 'not_found', hostname: 'go.example.com', fallbackUrl: null });
    expect(visit(null, { domain: null, host: 'unknown.example' })).toMatchObject({ kind: 'not_found', hostname: null, fallbackUrl: null });
    expect(visit(compiled(), { path: null })).toMatchObject({ kind: 'not_found' });
  });
});

function compiledDomainSettings() {
  return { hostname: 'go.example.com', workspaceId: 'ws_1', utmTemplate: null, defaultRedirectStatus: null, notFoundUrl: null, expiredUrl: null, version: 1 };
}

describe('resolve: forward_query and qr=1', () => {
  const link = compiled({ forwardQuery: true, destinationUrl: 'https://shop.example.com/p?sale=2026&ref=short#top' });
  const cases: [string, string][] = [
    ['', 'https://shop.example.com/p?sale=2026&ref=short#top'],
    ['a=1', 'https://shop.example.com/p?sale=2026&ref=short&a=1#top'],
    ['ref=tw', 'https://shop.example.com/p?sale=2026&ref=tw#top'],
    ['qr=1', 'https://shop.example.com/p?sale=2026&ref=short#top'],
    ['qr=1&x=y', 'https://shop.example.com/p?sale=2026&ref=short&x=y#top'],
    ['qr=0', 'https://shop.example.com/p?sale=2026&ref=short&qr=0#top'],
    ['sale=1&sale=2', 'https://shop.example.com/p?ref=short&sale=1&sale=2#top'],
    ['r%65f=enc', 'https://shop.example.com/p?sale=2026&r%65f=enc#top'],
    ['x=<script>&y="', 'https://shop.example.com/p?sale=2026&ref=short&x=%3Cscript%3E&y=%22#top'],
    ['h=#frag', 'https://shop.example.com/p?sale=2026&ref=short&h=%23frag#top'],
    ['u=caf\u00e9', 'https://shop.example.com/p?sale=2026&ref=short&u=caf%C3%A9#top'],
    ['bad=%zz', 'https://shop.example.com/p?sale=2026&ref=short&bad=%25zz#top'],
    ['&&a=1&', 'https://shop.example.com/p?sale=2026&ref=short&a=1#top'],
  ];
  for (const [query, expected] of cases) {
    it(`?${query} → ${expected}`, () => {
      expect(location(visit(link, { query }))).toBe(expected);
    });
  }

  it('merges into a destination without a query', () => {
    expect(location(visit(compiled({ forwardQuery: true }), { query: 'a=1&qr=1' }))).toBe('https://www.example.com/landing?a=1');
  });

  it('marks QR scans whether or not the query is forwarded', () => {
    const d = visit(compiled(), { query: 'x=1&qr=1' });
    expect(d.kind === 'redirect' && d.click.qr).toBe(true);
    const e = visit(compiled(), { query: 'qr=10' });
    expect(e.kind === 'redirect' && e.click.qr).toBe(false);
  });

  it('the forwarded query never changes scheme, host or path', () => {
    for (const query of ['@evil.com', '/../evil', '\\\\evil.com', 'x=1\r\nSet-Cookie: a=b', '%0d%0aLocation:%20http://evil', 'a=https://evil.com']) {
      const loc = location(visit(link, { query }))!;
      expect(loc.startsWith('https://shop.example.com/p?')).toBe(true);
      expect(loc).not.toMatch(/[\s\r\n]/);
    }
  });
});

describe('resolve: rules with real GeoLite2 lookups and real user agents', () => {
  const link = compiled({
    routing: {
      rules: [
        { id: 'bots', when: { device: ['bot'] }, url: 'https://example.com/bot' },
        { id: 'sg', when: { country: ['SG'] }, url: 'https://example.com/sg' },
        { id: 'gb-ios', when: { country: ['GB'], os: ['iOS'] }, url: 'https://example.com/gb-ios' },
        { id: 'ios', when: { os: ['iOS'] }, url: 'https://apps.apple.com/app/1' },
        { id: 'android', when: { os: ['Android'] }, url: 'https://play.google.com/store/apps/details?id=x' },
        { id: 'tablet', when: { device: ['tablet'] }, url: 'https://example.com/tablet' },
        { id: 'de-jp', when: { country: ['DE', 'JP'] }, url: 'https://example.com/de-jp' },
        { id: 'mac', when: { os: ['macOS'] }, url: 'https://example.com/mac' },
        { id: 'win', when: { os: ['windows'] }, url: 'https://example.com/win' },
        { id: 'cros', when: { os: ['chromeos'] }, url: 'https://example.com/cros' },
        { id: 'linux', when: { os: ['linux'] }, url: 'https://example.com/linux' },
      ],
    },
  });
  const cases: { ip: string; ua: string; rule: string | null; country: string | null }[] = [
    { ip: '165.21.0.1', ua: UA.windows, rule: 'sg', country: 'SG' },
    { ip: '165.21.0.1', ua: UA.googlebot, rule: 'bots', country: 'SG' },
    { ip: '8.8.8.8', ua: UA.curl, rule: 'bots', country: 'US' },
    { ip: '81.2.69.142', ua: UA.iphone, rule: 'gb-ios', country: 'GB' },
    { ip: '81.2.69.142', ua: UA.android, rule: 'android', country: 'GB' },
    { ip: '8.8.8.8', ua: UA.iphone, rule: 'ios', country: 'US' },
    { ip: '8.8.8.8', ua: UA.ipad, rule: 'ios', country: 'US' },
    { ip: '1.1.1.1', ua: UA.androidTablet, rule: 'android', country: 'AU' },
    { ip: '217.160.0.1', ua: UA.windows, rule: 'de-jp', country: 'DE' },
    { ip: '133.242.0.3', ua: UA.macos, rule: 'de-jp', country: 'JP' },
    { ip: '2001:4860:4860::8888', ua: UA.macos, rule: 'mac', country: 'US' },
    { ip: '1.1.1.1', ua: UA.windows, rule: 'win', country: 'AU' },
    { ip: '1.1.1.1', ua: UA.chromeos, rule: 'cros', country: 'AU' },
    { ip: '1.1.1.1', ua: UA.linux, rule: 'linux', country: 'AU' },
    { ip: '10.0.0.1', ua: UA.linux, rule: 'linux', country: null },
    { ip: '10.0.0.1', ua: 'Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15', rule: null, country: null },
  ];
  for (const c of cases) {
    it(`${c.ip} + ${c.ua.slice(0, 40)} → ${c.rule ?? 'destination'}`, () => {
      const d = visit(link, { ip: c.ip, ua: c.ua });
      expect(d.kind).toBe('redirect');
      if (d.kind !== 'redirect') return;
      expect(d.click.ruleId).toBe(c.rule);
      expect(d.click.country).toBe(c.country);
      expect(d.location).toBe(c.rule === null ? 'https://www.example.com/landing' : link.rules.find((r) => r.id === c.rule)!.url);
    });
  }

  it('does not parse the user agent or look up the country for links that do not need it', () => {
    const seen: string[] = [];
    const req = { getHeader: (h: string) => (seen.push(h), '') };
    const rec = record(compiled({ routing: { rules: [{ when: { query: { a: 'b' } }, url: 'https://example.com/q' }] } }));
    gatherFacts(req, () => parseIp('8.8.8.8'), 'a=b', rec.routing!.needs, deps);
    expect(seen).toEqual([]);
    expect(record(compiled()).routing).toBeNull();
    expect(NO_NEEDS.country).toBe(false);
  });
});

describe('resolve: Accept-Language with q-values', () => {
  const link = compiled({
    routing: {
      rules: [
        { id: 'pt-br', when: { language: ['pt-BR'] }, url: 'https://example.com/br' },
        { id: 'pt', when: { language: ['pt'] }, url: 'https://example.com/pt' },
        { id: 'fr', when: { language: ['fr'] }, url: 'https://example.com/fr' },
        { id: 'de', when: { language: ['de'] }, url: 'https://example.com/de' },
        { id: 'en', when: { language: ['en'] }, url: 'https://example.com/en' },
      ],
    },
  });
  const cases: [string, string | null][] = [
    ['fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5', 'fr'],
    ['en;q=0.5, de;q=0.9', 'de'],
    ['de;q=0, en;q=0.1', 'en'],
    ['pt-BR,pt;q=0.9', 'pt-br'],
    ['pt-PT', 'pt'],
    ['EN-us', 'en'],
    ['english', null],
    ['*', null],
    ['', null],
    ['es-ES,es;q=0.9', null],
    ['en;q=abc, fr;q=0.2', 'fr'],
    ['en-GB;q=0.8,de-DE;q=0.8', 'en'],
  ];
  for (const [header, rule] of cases) {
    it(`Accept-Language: ${JSON.stringify(header)} → ${rule ?? 'destination'}`, () => {
      const d = visit(link, { lang: header });
      expect(d.kind === 'redirect' && d.click.ruleId).toBe(rule);
    });
  }
});

describe('resolve: client IP in CIDRs, query parameters', () => {
  const link = compiled({
    routing: {
      rules: [
        { id: 'office', when: { ip: ['10.0.0.0/8', '2001:db8::/32', '198.51.100.7'] }, url: 'https://intranet.example.com/' },
        { id: 'newsletter', when: { query: { src: 'newsletter', 'a b': 'c d' } }, url: 'https://example.com/nl' },
        { id: 'campaign', when: { query: { utm_campaign: 'spring' } }, url: 'https://example.com/spring' },
      ],
    },
  });
  const cases: { ip?: string; query?: string; rule: string | null }[] = [
    { ip: '10.1.2.3', rule: 'office' },
    { ip: '10.255.255.255', rule: 'office' },
    { ip: '11.0.0.1', rule: null },
    { ip: '198.51.100.7', rule: 'office' },
    { ip: '198.51.100.8', rule: null },
    { ip: '::ffff:10.0.0.9', rule: 'office' },
    { ip: '2001:db8::1', rule: 'office' },
    { ip: '2001:db8:ffff:ffff::1', rule: 'office' },
    { ip: '2001:db9::1', rule: null },
    { ip: 'not-an-ip', rule: null },
    { query: 'src=newsletter&a+b=c%20d', rule: 'newsletter' },
    { query: 'a%20b=c+d&src=newsletter', rule: 'newsletter' },
    { query: 'src=newsletter', rule: null },
    { query: 'utm_campaign=spring', rule: 'campaign' },
    { query: 'utm_campaign=Spring', rule: null },
    { query: 'UTM_CAMPAIGN=spring', rule: null },
    { query: 'utm_campaign=spr%ing', rule: null },
  ];
  for (const c of cases) {
    it(`${c.ip ?? ''}${c.query ? `?${c.query}` : ''} → ${c.rule ?? 'destination'}`, () => {
      const d = visit(link, { ip: c.ip ?? '203.0.113.1', query: c.query ?? '' });
      expect(d.kind === 'redirect' && d.click.ruleId).toBe(c.rule);
    });
  }

  it('an X-Forwarded-For address counts only from a trusted proxy', () => {
    const rec = record(link);
    const headers: Record<string, string> = { 'x-forwarded-for': '10.9.9.9' };
    const req = { getHeader: (h: string) => headers[h] ?? '' };
    const untrusted = gatherFacts(req, () => parseIp('192.0.2.1'), '', rec.routing!.needs, deps);
    expect(resolve({ host: 'go.example.com', path: 'p', link: rec, domain: null }, untrusted, NOW)).toMatchObject({ click: { ruleId: null } });
    const trusted = gatherFacts(req, () => parseIp('192.0.2.1'), '', rec.routing!.needs, { ...deps, trustedProxies: [{ v6: false, net: [0xc0000200, 0, 0, 0], mask: [0xffffff00, 0, 0, 0] }] });
    expect(resolve({ host: 'go.example.com', path: 'p', link: rec, domain: null }, trusted, NOW)).toMatchObject({ click: { ruleId: 'office' } });
  });
});

describe('resolve: time windows', () => {
  const link = compiled({
    routing: {
      rules: [
        { id: 'launch', when: { time: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' } }, url: 'https://example.com/launch' },
        { id: 'tokyo-office-hours', when: { time: { days: [1, 2, 3, 4, 5], hours: [9, 17], timezone: 'Asia/Tokyo' } }, url: 'https://example.com/jp-open' },
        { id: 'night-utc', when: { time: { hours: [22, 6] } }, url: 'https://example.com/night' },
        { id: 'ny-weekend', when: { time: { days: [0, 6], timezone: 'America/New_York' } }, url: 'https://example.com/weekend' },
      ],
    },
  });
  const cases: [string, string | null][] = [
    ['2026-01-01T00:00:00Z', 'launch'],
    ['2026-01-31T23:59:59.999Z', 'launch'],
    ['2026-02-01T00:00:00Z', 'night-utc'], // `to` is exclusive: the next matching rule wins
    ['2026-03-02T00:30:00Z', 'tokyo-office-hours'], // Monday 09:30 in Tokyo
    ['2026-03-02T07:59:00Z', 'tokyo-office-hours'], // Monday 16:59 in Tokyo
    ['2026-03-02T08:00:00Z', null], // Monday 17:00 in Tokyo: window closed
    ['2026-03-01T01:00:00Z', 'night-utc'], // Sunday 10:00 Tokyo (weekend) but 01:00 UTC
    ['2026-03-02T22:00:00Z', 'night-utc'], // Tuesday 07:00 in Tokyo, 22:00 UTC
    ['2026-03-02T05:59:00Z', 'tokyo-office-hours'],
    ['2026-03-07T15:00:00Z', 'ny-weekend'], // Saturday 10:00 in New York, 00:00 Sunday Tokyo
    ['2026-03-09T03:00:00Z', 'tokyo-office-hours'], // Monday 12:00 in Tokyo (Sunday 23:00 in New York: first match wins)
    ['2026-03-08T14:00:00Z', 'ny-weekend'], // Sunday 10:00 in New York (EDT), 23:00 in Tokyo
    ['2026-03-04T12:00:00Z', null], // Wednesday: 21:00 in Tokyo, 08:00 in New York, 12:00 UTC
  ];
  for (const [at, rule] of cases) {
    it(`${at} → ${rule ?? 'destination'}`, () => {
      const d = visit(link, { now: Date.parse(at) });
      expect(d.kind === 'redirect' && d.click.ruleId).toBe(rule);
    });
  }
});

describe('resolve: sticky weighted A/B split', () => {
  function visitors(count: number): { ip: string; ua: string }[] {
    const uas = Object.values(UA).filter((u) => !u.includes('bot') && !u.startsWith('curl'));
    let seed = 42;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    return Array.from({ length: count }, () => ({
      ip: `${1 + Math.floor(rnd() * 222)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`,
      ua: `${uas[Math.floor(rnd() * uas.length)]!} r/${Math.floor(rnd() * 1e6)}`,
    }));
  }
  const people = visitors(20_000);

  function shares(link: CompiledLink, pick: (d: Decision) => string | null): Map<string, number> {
    const counts = new Map<string, number>();
    for (const p of people) {
      const id = pick(visit(link, p)) ?? 'none';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  it('default split 60/40 lands within ±2 % over 20 000 visitors', () => {
    const link = compiled({ routing: { ab: [{ url: 'https://a.example.com/', weight: 60 }, { url: 'https://b.example.com/', weight: 40 }] } });
    const counts = shares(link, (d) => (d.kind === 'redirect' ? d.click.variantId : null));
    expect(Math.abs(counts.get('a')! / people.length - 0.6)).toBeLessThan(0.02);
    expect(Math.abs(counts.get('b')! / people.length - 0.4)).toBeLessThan(0.02);
  });

  it('three-way split inside a rule (weights 1/2/7) lands within ±2 %', () => {
    const link = compiled({
      routing: {
        rules: [{ id: 'everyone', when: { time: { from: '2000-01-01T00:00:00Z' } }, variants: [
          { id: 'x', url: 'https://x.example.com/', weight: 1 },
          { id: 'y', url: 'https://y.example.com/', weight: 2 },
          { id: 'z', url: 'https://z.example.com/', weight: 7 },
        ] }],
      },
    });
    const counts = shares(link, (d) => (d.kind === 'redirect' ? d.click.variantId : null));
    expect(Math.abs(counts.get('x')! / people.length - 0.1)).toBeLessThan(0.02);
    expect(Math.abs(counts.get('y')! / people.length - 0.2)).toBeLessThan(0.02);
    expect(Math.abs(counts.get('z')! / people.length - 0.7)).toBeLessThan(0.02);
  });

  it('is sticky: every visitor gets the same variant on every visit, and the Location matches it', () => {
    const link = compiled({ routing: { ab: [{ url: 'https://a.example.com/', weight: 50 }, { url: 'https://b.example.com/', weight: 50 }] } });
    for (const p of people) {
      const first = visit(link, p);
      for (let i = 0; i < 3; i++) expect(visit(link, p)).toEqual(first);
      expect(first.kind === 'redirect' && first.location).toBe(first.kind === 'redirect' && first.click.variantId === 'a' ? 'https://a.example.com/' : 'https://b.example.com/');
    }
  });

  it('different links split independently for the same visitors', () => {
    const ab = { ab: [{ url: 'https://a.example.com/', weight: 50 }, { url: 'https://b.example.com/', weight: 50 }] };
    const one = compiled({ routing: ab });
    const two = compiled({ routing: ab });
    let same = 0;
    for (const p of people.slice(0, 4000)) {
      const a = visit(one, p);
      const b = visit(two, p);
      if (a.kind === 'redirect' && b.kind === 'redirect' && a.click.variantId === b.click.variantId) same++;
    }
    expect(Math.abs(same / 4000 - 0.5)).toBeLessThan(0.04);
  });
});

describe('resolve: what the node will not redirect to', () => {
  it('a rule whose URL is not a safe absolute http(s) URL never matches', () => {
    const link = compiled({ routing: { rules: [{ id: 'bad', when: { query: { a: '1' } }, url: 'https://ok.example.com/' }] } });
    // tamper with the compiled rule as a buggy or hostile publisher could
    const tampered: CompiledLink = { ...link, rules: [{ ...link.rules[0]!, url: 'javascript:alert(1)' }] };
    expect(location(visit(tampered, { query: 'a=1' }))).toBe('https://www.example.com/landing');
    const crlf: CompiledLink = { ...link, rules: [{ ...link.rules[0]!, url: 'https://ok.example.com/\r\nSet-Cookie: x=y' }] };
    expect(location(visit(crlf, { query: 'a=1' }))).toBe('https://www.example.com/landing');
  });

  it('an unknown condition type makes its rule never match', () => {
    const link = compiled({ routing: { rules: [{ id: 'r', when: { query: { a: '1' } }, url: 'https://ok.example.com/' }] } });
    const future = { ...link, rules: [{ ...link.rules[0]!, when: [{ type: 'moon-phase', in: ['full'] }] }] } as unknown as CompiledLink;
    expect(location(visit(future, { query: 'a=1' }))).toBe('https://www.example.com/landing');
  });
});
