/**
 * The email rewriter against a live stack with a redirect node: each distinct URL becomes one
 * short link carrying the campaign's UTM, a second run reuses them, and the node sends a reader
 * to the original URL with the UTM added.
 */
import { Linkplane } from '@linkplane/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../shared/testing/index.js';
import { startLiveStack, type LiveStack } from '../testing/live-stack.js';
import { campaignShortener, type Campaign } from './campaign-links.js';
import { rewriteLinks } from './rewrite-links.js';

const DOMAIN = 'go.mail.example.com';
const campaign: Campaign = { id: '2026-spring', domain: DOMAIN, utm: { source: 'newsletter', medium: 'email', campaign: 'spring_sale' } };

const EMAIL = `<!doctype html>
<html><body>
<p>Hello *|FNAME|*,</p>
<a href="https://shop.example.com/sale?a=1&amp;b=2#top">Shop the sale</a>
<a href="https://shop.example.com/sale?a=1&b=2#top"><img src="https://cdn.example.com/banner.png" alt="Sale"></a>
<a href="https://shop.example.com/new?utm_source=old">New in</a>
<a href="mailto:help@example.com">Write to us</a> · <a href="tel:+15551234567">Call us</a> · <a href="#top">Top</a>
<a href="https://esp.example.com/unsubscribe?u=42">Unsubscribe</a>
</body></html>`;

let stack: LiveStack;
let lp: Linkplane;

beforeAll(async () => {
  stack = await startLiveStack('email', { node: true });
  await stack.domain(DOMAIN);
  lp = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher', [DOMAIN]) });
});
afterAll(async () => {
  await stack?.close();
});

describe('email rewriter, live', () => {
  it('one short link per distinct URL with the campaign UTM; the rest of the email untouched; a second run changes nothing', async () => {
    const first = await rewriteLinks(EMAIL, campaignShortener(lp, campaign), { shortDomains: [DOMAIN] });
    const links = await lp.links.list({ domain: DOMAIN }).toArray();
    expect(links.map((l) => l.destination_url).sort()).toEqual(['https://shop.example.com/new?utm_source=old', 'https://shop.example.com/sale?a=1&b=2#top']);
    for (const l of links) {
      expect(l).toMatchObject({ utm: campaign.utm, tags: ['email', 'campaign:2026-spring'] });
      expect(l.external_id).toMatch(/^email:2026-spring:[0-9a-f]{32}$/);
    }
    const sale = links.find((l) => l.destination_url.includes('/sale'))!.short_url;
    const fresh = links.find((l) => l.destination_url.includes('/new'))!.short_url;
    expect(first.html).toBe(EMAIL
      .replace('href="https://shop.example.com/sale?a=1&amp;b=2#top"', `href="${sale}"`)
      .replace('href="https://shop.example.com/sale?a=1&b=2#top"', `href="${sale}"`)
      .replace('href="https://shop.example.com/new?utm_source=old"', `href="${fresh}"`));

    // the same email again (a retry, a re-send): the same links, nothing new
    const again = await rewriteLinks(EMAIL, campaignShortener(lp, campaign), { shortDomains: [DOMAIN] });
    expect(again.html).toBe(first.html);
    // and after the idempotency records are gone (another key has none): found by external_id
    const other = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher', [DOMAIN]) });
    expect((await rewriteLinks(EMAIL, campaignShortener(other, campaign), { shortDomains: [DOMAIN] })).html).toBe(first.html);
    expect((await lp.links.list({ domain: DOMAIN }).toArray()).length).toBe(2);
  });

  it('a reader clicking a rewritten link reaches the original URL with the UTM added', async () => {
    const links = await lp.links.list({ domain: DOMAIN }).toArray();
    const path = (d: string) => new URL(links.find((l) => l.destination_url.includes(d))!.short_url).pathname;
    const visit = async (p: string) => waitFor(`${p} served`, async () => {
      const r = await stack.node!.visit(DOMAIN, p);
      return r.status === 302 ? r.location : null;
    });
    expect(await visit(path('/sale'))).toBe('https://shop.example.com/sale?a=1&b=2&utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale#top');
    // the link's own utm replaces a key the URL already had, in place
    expect(await visit(path('/new'))).toBe('https://shop.example.com/new?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale');
  });
});
