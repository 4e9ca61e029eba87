import { describe, expect, it } from 'vitest';
import { compileLink, effectiveUtm, mergeUtm, type DomainSettings, type LinkSource } from './compile-link.js';
import { decodeKvValue, encodeKvValue } from './rule-format.js';

const domain: DomainSettings = {
  hostname: 'go.example.com', workspaceId: 'ws_1', utmTemplate: { source: 'brand', medium: 'email' },
  defaultRedirectStatus: null, notFoundUrl: null, expiredUrl: null, version: 1,
};
const link = (over: Partial<LinkSource> = {}): LinkSource => ({
  id: 'ln_1', workspaceId: 'ws_1', version: 3, domain: 'go.example.com', path: 'deal',
  destinationUrl: 'https://shop.example.com/p?sale=1', utm: null, routing: null, redirectStatus: null,
  forwardQuery: false, disabled: false, expiresAt: null, status: 'live', ...over,
});

describe('UTM', () => {
  it('the link overrides the domain template; null clears a template value', () => {
    expect(effectiveUtm({ source: 'brand', medium: 'email' }, { source: 'news', medium: null, campaign: 'spring' }))
      .toEqual({ source: 'news', campaign: 'spring' });
    expect(effectiveUtm(null, null)).toBeNull();
  });

  it('a link value replaces the same key in place and never duplicates it', () => {
    expect(mergeUtm('https://x.com/p?a=1&utm_source=old#f', null, { source: 'new', medium: 'm' }))
      .toBe('https://x.com/p?a=1&utm_source=new&utm_medium=m#f');
    expect(mergeUtm('https://x.com/p?utm_source=a&k=~,&utm_source=b', null, { source: 'c' }))
      .toBe('https://x.com/p?utm_source=c&k=~,');
  });

  // The destination's raw query is signed or compared by some destinations: not one byte of it may change.
  const byteForByte: [string, string, Parameters<typeof mergeUtm>[1], Parameters<typeof mergeUtm>[2], string][] = [
    ['tilde, comma, slash, %20 and a bare flag', 'https://x.com/p?sig=a~b,c/d&q=a%20b&flag#frag',
      { source: 'brand' }, null, 'https://x.com/p?sig=a~b,c/d&q=a%20b&flag&utm_source=brand#frag'],
    ['a plus and an empty pair stay', 'https://x.com/p?q=a+b&&z=', { source: 'brand' }, null,
      'https://x.com/p?q=a+b&&z=&utm_source=brand'],
    ['no query yet', 'https://x.com/p', { source: 'brand', medium: 'e mail' }, null,
      'https://x.com/p?utm_source=brand&utm_medium=e%20mail'],
    ['a bare ? and a trailing &', 'https://x.com/p?', { source: 's' }, null, 'https://x.com/p?utm_source=s'],
    ['a trailing &', 'https://x.com/p?a=1&', { source: 's' }, null, 'https://x.com/p?a=1&utm_source=s'],
    ['the template never overwrites a key the destination has', 'https://x.com/p?utm_source=partner&x=%7E',
      { source: 'brand', medium: 'email' }, null, 'https://x.com/p?utm_source=partner&x=%7E&utm_medium=email'],
    ['…also when the key is percent-encoded', 'https://x.com/p?utm%5Fsource=partner',
      { source: 'brand' }, null, 'https://x.com/p?utm%5Fsource=partner'],
    ['the link value replaces only its pair', 'https://x.com/p?a=~&utm_source=partner&b=%20#f',
      { source: 'brand' }, { source: 'news letter' }, 'https://x.com/p?a=~&utm_source=news%20letter&b=%20#f'],
    ['a link null clears the template, the destination keeps its own', 'https://x.com/p?utm_source=partner',
      { source: 'brand' }, { source: null }, 'https://x.com/p?utm_source=partner'],
    ['nothing to add: the URL is returned as is', 'https://x.com/p?a=%7e', null, null, 'https://x.com/p?a=%7e'],
  ];
  byteForByte.forEach(([name, url, template, own, expected]) => {
    it(`keeps the destination's query byte for byte: ${name}`, () => {
      expect(mergeUtm(url, template, own)).toBe(expected);
    });
  });
});

describe('compileLink', () => {
  it('merges UTM into the destination and applies defaults', () => {
    const c = compileLink(link({ utm: { campaign: 'spring' } }), domain);
    expect(c.destination).toBe('https://shop.example.com/p?sale=1&utm_source=brand&utm_medium=email&utm_campaign=spring');
    expect(c.redirectStatus).toBe(302);
    expect(c.utm).toEqual({ source: 'brand', medium: 'email', campaign: 'spring' });
    expect(c.needs).toEqual({ country: false, userAgent: false, language: false, ip: false, query: false, visitor: false });
    expect(c.rules).toEqual([]);
    expect(c.ab).toBeNull();
  });

  it('applies the same merge to the destination, rule URLs and A/B variants', () => {
    const c = compileLink(link({
      destinationUrl: 'https://shop.example.com/p?sig=a~b,c/d&utm_source=partner&flag#top',
      routing: { rules: [{ when: { country: ['DE'] }, url: 'https://x.com/de?q=a%20b' }], ab: [{ url: 'https://x.com/a?x=1,2', weight: 1 }] },
    }), domain);
    expect(c.destination).toBe('https://shop.example.com/p?sig=a~b,c/d&utm_source=partner&flag&utm_medium=email#top');
    expect(c.rules[0]!.url).toBe('https://x.com/de?q=a%20b&utm_source=brand&utm_medium=email');
    expect(c.ab![0]!.url).toBe('https://x.com/a?x=1,2&utm_source=brand&utm_medium=email');
  });

  it('uses the domain default status unless the link sets one', () => {
    expect(compileLink(link(), { ...domain, defaultRedirectStatus: 301 }).redirectStatus).toBe(301);
    expect(compileLink(link({ redirectStatus: 308 }), { ...domain, defaultRedirectStatus: 301 }).redirectStatus).toBe(308);
  });

  it('compiles rules in order (rules, geo, device), cumulative A/B weights and what the hot path needs', () => {
    const c = compileLink(link({
      expiresAt: '2030-01-01T00:00:00Z',
      routing: {
        rules: [{ id: 'de-night', when: { country: ['de'], time: { hours: [22, 6], timezone: 'Europe/Berlin' } }, url: 'https://x.com/de' }],
        geo: [{ country: ['SG', 'my'], url: 'https://x.com/sea' }],
        device: [{ os: 'iOS', url: 'https://apps.apple.com/app' }],
        ab: [{ url: 'https://x.com/a', weight: 60 }, { url: 'https://x.com/b', weight: 40 }, { url: 'https://x.com/c', weight: 0 }],
      },
    }), { ...domain, utmTemplate: null });
    expect(c.expiresAt).toBe(Date.parse('2030-01-01T00:00:00Z'));
    expect(c.rules.map((r) => r.id)).toEqual(['de-night', 'r2', 'r3']);
    expect(c.rules[0]!.when).toEqual([
      { type: 'country', in: ['DE'] },
      { type: 'time', from: null, to: null, days: null, hours: [22, 6], timezone: 'Europe/Berlin' },
    ]);
    expect(c.rules[1]!.when).toEqual([{ type: 'country', in: ['SG', 'MY'] }]);
    expect(c.rules[2]!.when).toEqual([{ type: 'os', in: ['ios'] }]);
    expect(c.ab).toEqual([
      { id: 'a', url: 'https://x.com/a', weight: 60, cumulative: 60 },
      { id: 'b', url: 'https://x.com/b', weight: 40, cumulative: 100 },
    ]);
    expect(c.needs).toEqual({ country: true, userAgent: true, language: false, ip: false, query: false, visitor: true });
  });

  it('survives the KV encoding byte for byte', () => {
    const c = compileLink(link({ routing: { ab: [{ url: 'https://x.com/a', weight: 1 }] } }), domain);
    expect(decodeKvValue(encodeKvValue(c))).toEqual(c);
    expect(decodeKvValue(Buffer.from('{"format":99,"kind":"link"}'))).toBeNull();
    expect(decodeKvValue(Buffer.from('garbage'))).toBeNull();
  });
});
