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

  it('keeps the existing query and never duplicates a key', () => {
    expect(mergeUtm('https://x.com/p?a=1&utm_source=old#f', { source: 'new', medium: 'm' }))
      .toBe('https://x.com/p?a=1&utm_source=new&utm_medium=m#f');
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
