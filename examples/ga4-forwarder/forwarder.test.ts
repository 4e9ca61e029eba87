/**
 * The GA4 forwarder end to end: a click and a QR scan through a real redirect node → clicks
 * ingested by the control plane → signed click.created / qr.scan.created deliveries → the
 * forwarder → a local stand-in for GA4's collect endpoint, which must see exactly two requests.
 */
import { Linkplane } from '@linkplane/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../shared/testing/index.js';
import { listen, startLiveStack, startStandIn, type LiveStack } from '../testing/live-stack.js';
import { ga4Forwarder } from './forwarder.js';

const DOMAIN = 'go.ga4.example.com';
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

let stack: LiveStack;
let lp: Linkplane;
let ga4: Awaited<ReturnType<typeof startStandIn>>;
let forwarder: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  stack = await startLiveStack('ga4', { node: true });
  await stack.domain(DOMAIN);
  lp = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher') });
  ga4 = await startStandIn(204);
  // the endpoint's secret is shown once, at creation: the forwarder is configured with it
  const secrets: string[] = [];
  forwarder = await listen(ga4Forwarder({ secrets, measurementId: 'G-TEST123', apiSecret: 'mp-secret', endpoint: `${ga4.url}/mp/collect` }));
  const ep = await lp.webhooks.endpoints.create({ url: `${forwarder.url}/linkplane`, events: ['click.created', 'qr.scan.created'] });
  secrets.push(ep.secret!); // shown in the creating answer only
});
afterAll(async () => {
  await forwarder?.close();
  await ga4?.close();
  await stack?.close();
});

describe('GA4 forwarder', () => {
  it('sends GA4 exactly one Measurement Protocol request per click and per scan', async () => {
    const link = await lp.links.create({
      domain: DOMAIN, path: 'spring', destination_url: 'https://www.example.com/spring',
      utm: { source: 'email', medium: 'newsletter', campaign: 'spring_sale' },
    });
    await waitFor('link served', async () => (await stack.node!.visit(DOMAIN, '/spring', {}, 'HEAD')).status === 302);
    const click = await stack.node!.visit(DOMAIN, '/spring', { 'x-forwarded-for': '8.8.8.8', 'user-agent': IPHONE, 'accept-language': 'fr-CH, fr;q=0.9' });
    expect(click.status).toBe(302);
    const scan = await stack.node!.visit(DOMAIN, '/spring?qr=1', { 'x-forwarded-for': '81.2.69.160', 'user-agent': WINDOWS, 'accept-language': 'en-GB' });
    expect(scan.status).toBe(302);
    await waitFor('two GA4 requests', () => ga4.requests.length >= 2, 30_000, 50);

    const clicks = await lp.links.clicks(link.id).toArray();
    const byQr = (qr: boolean) => clicks.find((c) => c.qr === qr)!;
    const micros = (iso: string) => Date.parse(iso) * 1000;
    const sent = ga4.requests.map((r) => ({ method: r.method, url: r.url, type: r.headers['content-type'], body: JSON.parse(r.body.toString()) }));
    sent.sort((a, b) => a.body.events[0].name.localeCompare(b.body.events[0].name));
    const common = { link_id: link.id, short_url: `https://${DOMAIN}/spring`, engagement_time_msec: 1 };
    expect(sent).toEqual([
      {
        method: 'POST',
        url: '/mp/collect?measurement_id=G-TEST123&api_secret=mp-secret',
        type: 'application/json',
        body: {
          client_id: byQr(false).visitor_hash,
          timestamp_micros: micros(byQr(false).occurred_at),
          non_personalized_ads: true,
          events: [{
            name: 'link_click',
            params: {
              ...common,
              link_url: 'https://www.example.com/spring?utm_source=email&utm_medium=newsletter&utm_campaign=spring_sale',
              campaign: 'spring_sale', source: 'email', medium: 'newsletter',
              country: 'US', device_category: 'mobile', operating_system: 'ios', browser: 'Mobile Safari', language: 'fr-ch',
            },
          }],
        },
      },
      {
        method: 'POST',
        url: '/mp/collect?measurement_id=G-TEST123&api_secret=mp-secret',
        type: 'application/json',
        body: {
          client_id: byQr(true).visitor_hash,
          timestamp_micros: micros(byQr(true).occurred_at),
          non_personalized_ads: true,
          events: [{
            name: 'qr_scan',
            params: {
              ...common,
              link_url: 'https://www.example.com/spring?utm_source=email&utm_medium=newsletter&utm_campaign=spring_sale',
              campaign: 'spring_sale', source: 'email', medium: 'newsletter',
              country: 'GB', device_category: 'desktop', operating_system: 'windows', browser: 'Chrome', language: 'en-gb',
            },
          }],
        },
      },
    ]);
  });

  it('a replayed delivery (same Event-Id) is answered but not sent to GA4 again', async () => {
    const [delivery] = await lp.webhooks.deliveries.list({ event_type: 'click.created' }).toArray();
    await lp.webhooks.deliveries.replay(delivery!.id);
    await waitFor('replay answered', async () => {
      const d = await lp.webhooks.deliveries.get(delivery!.id);
      return d.status === 'succeeded' && d.attempts.length === 2;
    }, 30_000, 50);
    expect(ga4.requests.length).toBe(2);
  });

  it('refuses an unsigned or forged delivery and sends GA4 nothing for it', async () => {
    const before = ga4.requests.length;
    const body = JSON.stringify({ id: 'evt-forged', type: 'click.created', occurred_at: new Date().toISOString(), data: {}, attempt: 1 });
    const unsigned = await fetch(`${forwarder.url}/linkplane`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(unsigned.status).toBe(400);
    const t = Math.floor(Date.now() / 1000);
    const forged = await fetch(`${forwarder.url}/linkplane`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature': `t=${t},k=whk_x,h=sha256,s=${'0'.repeat(64)}` },
      body,
    });
    expect(forged.status).toBe(401);
    expect(ga4.requests.length).toBe(before);
  });
});
