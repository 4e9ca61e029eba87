/**
 * Console in Chromium (issue 19): accessibility checked by axe-core on every page (no serious or
 * critical violation), a sign-in and a link created with the keyboard only, every page on a
 * 375×667 screen without sideways scrolling and with its navigation reachable, the chart's QR-scan
 * series beside the clicks, and the OAuth client sign-in (token kept, secret not; renewed while the
 * page lives; asked again after it expires).
 */
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClicks, publishClicks, type FixtureLink } from '../../control-plane/test/click-fixtures.js';
import { TEST_NATS_URL, waitFor } from '../../shared/testing/index.js';
import { axeViolations, SHOTS, startConsoleStack, type ConsoleStack } from './console-stack.js';

const DOMAIN = 'go.a11y-console.example.com';

/** The focused element's name as a keyboard user hears it: aria-label, its label, or its text. */
const FOCUSED_NAME = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return '';
  const byFor = el.id ? document.querySelector('label[for="' + el.id + '"]')?.textContent : null;
  return (el.getAttribute('aria-label') ?? byFor ?? el.closest('label')?.textContent ?? el.textContent ?? '').trim();
})()`;

describe('console: accessible, keyboard-only, phone-sized, OAuth sign-in', () => {
  let s: ConsoleStack;
  let linkId = '';
  let scans = 0;
  let clicks = 0;

  beforeAll(async () => {
    s = await startConsoleStack('console_a11y');
    expect((await s.cp.call('POST', '/v1/domains', { hostname: DOMAIN })).status).toBe(201);
    const made: FixtureLink[] = [];
    for (const path of ['spring-sale', 'ab-pricing', 'a-rather-long-path-for-the-phone-layout-to-wrap-or-scroll']) {
      const r = await s.cp.call('POST', '/v1/links', { domain: DOMAIN, path, destination_url: `https://www.example.com/${path}?utm_source=newsletter&utm_medium=email`, tags: ['email', 'spring'] });
      expect(r.status).toBe(201);
      made.push({ id: String(r.json.id), workspaceId: '', domain: DOMAIN, path });
    }
    linkId = made[0]!.id;
    // a link waiting for review, a webhook endpoint, and a day of clicks (some of them QR scans)
    expect((await s.cp.call('PUT', '/v1/policy', { require_approval: true })).status).toBe(200);
    expect((await s.cp.call('POST', '/v1/links', { domain: DOMAIN, path: 'pending-one', destination_url: 'https://www.example.com/p' })).status).toBe(201);
    expect((await s.cp.call('PUT', '/v1/policy', { require_approval: false })).status).toBe(200);
    expect((await s.cp.call('POST', '/v1/webhooks/endpoints', { url: 'http://127.0.0.1:9/hook', events: ['link.*'] })).status).toBe(201);
    const db = new pg.Client({ connectionString: s.db.url });
    await db.connect();
    const ws = (await db.query<{ workspace_id: string }>('SELECT workspace_id FROM links LIMIT 1')).rows[0]!.workspace_id;
    for (const l of made) l.workspaceId = ws;
    const n = 400;
    const nc = await connect({ servers: TEST_NATS_URL });
    await publishClicks(nc, s.prefix, makeClicks(n, made, { start: Date.now() - 20 * 3_600_000, spacingMs: 150_000, visitors: 90, seed: 5 }));
    await nc.close();
    await waitFor('clicks ingested', async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM clicks')).rows[0]!.n) >= n, 60_000, 200);
    const counts = (await db.query<{ clicks: number; scans: number }>('SELECT count(*)::int AS clicks, (count(*) FILTER (WHERE qr))::int AS scans FROM clicks WHERE NOT bot')).rows[0]!;
    ({ clicks, scans } = counts);
    await db.end();
    expect(scans).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** Every page of the console, by hash, with what shows it is ready. */
  const pages = (): { name: string; hash: string; ready: (p: Page) => Promise<unknown> }[] => [
    { name: 'links', hash: '#/links', ready: (p) => p.locator('table.links tbody tr').nth(3).waitFor() },
    { name: 'link-new', hash: '#/links/new', ready: (p) => p.getByRole('button', { name: 'Create link' }).waitFor() },
    { name: 'link-edit', hash: `#/links/${linkId}/edit`, ready: (p) => expect.poll(() => p.locator('#lf-destination').inputValue()).toContain('spring-sale') },
    { name: 'link-stats', hash: `#/links/${linkId}/stats`, ready: (p) => p.locator('.chart canvas').waitFor() },
    { name: 'analytics', hash: '#/analytics', ready: (p) => p.locator('.chart canvas').waitFor() },
    { name: 'jobs', hash: '#/jobs', ready: (p) => p.getByText('No bulk job yet.').waitFor() },
    { name: 'webhooks', hash: '#/webhooks', ready: (p) => p.locator('table.endpoints tbody tr').first().waitFor() },
    { name: 'keys', hash: '#/keys', ready: (p) => p.locator('table.keys tbody tr').first().waitFor() },
    { name: 'review', hash: '#/review', ready: (p) => p.locator('table.review tbody tr').first().waitFor() },
    { name: 'policy', hash: '#/policy', ready: (p) => p.getByRole('heading', { level: 1 }).waitFor() },
    { name: 'audit', hash: '#/audit', ready: (p) => p.locator('table.audit tbody tr').first().waitFor() },
  ];

  const open = async (page: Page, hash: string, ready: (p: Page) => Promise<unknown>) => {
    await page.goto(`/ui/${hash}`);
    await ready(page);
    await page.waitForLoadState('networkidle');
  };

  it('axe-core finds no serious or critical violation on any page, signed out or in', async () => {
    const { page } = s;
    await page.goto('/ui/');
    await page.getByLabel('API key', { exact: true }).waitFor();
    const found: Record<string, unknown> = {};
    const check = async (name: string) => {
      const v = await axeViolations(page);
      if (v.length) found[name] = v;
    };
    await check('sign-in');
    await page.getByLabel('An OAuth client (id + secret)').check();
    await check('sign-in-oauth');
    await page.getByLabel('An API key').check();
    await s.signIn(s.adminKey);
    for (const p of pages()) {
      await open(page, p.hash, p.ready);
      await check(p.name);
    }
    // the QR dialog (a modal over the links table)
    await open(page, '#/links', pages()[0]!.ready);
    await page.getByRole('button', { name: `QR code of https://${DOMAIN}/spring-sale` }).click();
    await page.getByRole('img', { name: /QR code for/ }).waitFor();
    await check('qr-dialog');
    await page.getByRole('button', { name: 'Close' }).click();
    expect(found).toEqual({});
    expect(s.errors).toEqual([]);
  });

  it('the chart draws clicks and QR scans with a legend, and the totals match the raw clicks', async () => {
    const { page } = s;
    await open(page, '#/analytics', (p) => p.locator('.chart canvas').waitFor());
    expect(await page.getByTestId('total-clicks').textContent()).toBe(String(clicks));
    expect(await page.getByTestId('total-scans').textContent()).toBe(String(scans));
    const legend = await page.locator('.chart .u-legend .u-label').allTextContents();
    expect(legend).toEqual(expect.arrayContaining(['Clicks', 'QR scans', 'Visitors']));
    expect(await page.getByRole('img', { name: `Clicks, QR scans and visitors per day: ${clicks} clicks and ${scans} QR scans in all` }).count()).toBe(1);
    await s.shot('analytics-scans');
  });

  it('signs in and creates a link with the keyboard only', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto('/ui/#/links');
    await page.getByLabel('API key', { exact: true }).waitFor();
    await page.locator('body').focus();
    /** Tab (or Shift+Tab) until the focused element's label or text is `name`; fails after 60 steps. */
    const tabTo = async (name: string | RegExp, back = false) => {
      for (let i = 0; i < 60; i++) {
        await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
        const label = String(await page.evaluate(FOCUSED_NAME));
        if (typeof name === 'string' ? label === name : name.test(label)) return;
      }
      throw new Error(`no focusable element named ${String(name)} within 60 tabs`);
    };
    await tabTo('API key');
    await page.keyboard.type(s.adminKey);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // the skip link comes first and moves focus to the content
    await page.locator('body').focus();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(FOCUSED_NAME)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await tabTo('New link');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Create link' }).waitFor();
    await tabTo('Path');
    await page.keyboard.type('typed-by-keyboard');
    await tabTo('Destination URL');
    await page.keyboard.type('https://www.example.com/keyboard');
    await tabTo('Tags');
    await page.keyboard.type('kbd');
    await tabTo('Create link');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: `Saved https://${DOMAIN}/typed-by-keyboard` }).waitFor();
    const made = await s.cp.call('GET', `/v1/links?q=typed-by-keyboard`);
    expect((made.json.data as { destination_url: string; tags: string[] }[]).map((l) => [l.destination_url, l.tags])).toEqual([['https://www.example.com/keyboard', ['kbd']]]);
    await s.shot('keyboard-created');
    expect(s.errors).toEqual([]);
  });

  it('on a 375×667 screen no page scrolls sideways and the navigation is reachable', async () => {
    const phone = await s.browser.newContext({ viewport: { width: 375, height: 667 }, baseURL: s.api, deviceScaleFactor: 1 });
    const page = await phone.newPage();
    page.setDefaultTimeout(10_000);
    const wide: Record<string, number> = {};
    const overflow = async (name: string) => {
      const w = (await page.evaluate('({ scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth })')) as { scroll: number; inner: number };
      if (w.scroll > w.inner) wide[name] = w.scroll;
      await page.screenshot({ path: join(SHOTS, `phone-${name}.png`), fullPage: true });
    };
    try {
      await page.goto('/ui/');
      await page.getByLabel('API key', { exact: true }).fill(s.adminKey);
      await overflow('sign-in');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      for (const p of pages()) {
        await open(page, p.hash, p.ready);
        await overflow(p.name);
      }
      // every section's link is on screen (within the width) and opens its page
      const nav = page.getByRole('navigation', { name: 'Sections' }).getByRole('link');
      const names = await nav.allTextContents();
      expect(names).toEqual(['Links', 'Analytics', 'Bulk jobs', 'Webhooks', 'Keys', 'Review', 'Policy', 'Audit log']);
      for (const name of names) {
        const link = page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });
        const box = (await link.boundingBox())!;
        expect(box.x >= 0 && box.x + box.width <= 375, `${name} within the screen`).toBe(true);
        await link.click();
        await expect.poll(() => link.getAttribute('aria-current')).toBe('page');
      }
      expect(wide).toEqual({});
    } finally {
      await phone.close();
    }
  });

  it('signs in with an OAuth client: keeps the token, never the secret; renews it while open, asks again once expired', async () => {
    const { page } = s;
    const c = await s.cp.call('POST', '/v1/oauth/clients', { name: 'Console publisher', role: 'publisher' });
    expect(c.status).toBe(201);
    const clientId = String(c.json.client_id);
    const secret = String(c.json.client_secret);
    await page.goto('/ui/#/links');
    if (await page.getByRole('button', { name: 'Sign out' }).isVisible()) await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('An OAuth client (id + secret)').check();
    await page.getByLabel('Client ID').fill(clientId);
    await page.getByLabel('Client secret').fill('wrong-secret-0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That client id and secret are not valid' }).waitFor();
    await page.getByLabel('Client secret').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.locator('.who').textContent()).toContain('Console publisher · publisher');
    await page.locator('table.links tbody tr').first().waitFor();

    const stored = async () => JSON.parse(String(await page.evaluate('sessionStorage.getItem("linkplane.token")'))) as { token: string; expires_at: number; client_id: string };
    const first = await stored();
    expect(first.client_id).toBe(clientId);
    expect(first.token.split('.')).toHaveLength(3); // a JWT
    const everything = String(await page.evaluate('JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie'));
    expect(everything).not.toContain(secret);
    expect(await page.evaluate('sessionStorage.getItem("linkplane.key")')).toBeNull();

    // about to expire, page still open: the next call renews it with the secret held in memory
    await page.evaluate(`sessionStorage.setItem('linkplane.token', JSON.stringify({ ...JSON.parse(sessionStorage.getItem('linkplane.token')), expires_at: Date.now() + 5000 }))`);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(async () => (await stored()).token).not.toBe(first.token);
    expect((await stored()).expires_at).toBeGreaterThan(Date.now() + 60_000);

    // after a reload the secret is gone: an expired token means the sign-in page, the client id filled in
    await page.reload();
    await page.locator('table.links tbody tr').first().waitFor();
    await page.evaluate(`sessionStorage.setItem('linkplane.token', JSON.stringify({ ...JSON.parse(sessionStorage.getItem('linkplane.token')), expires_at: Date.now() - 1000 }))`);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('alert').filter({ hasText: 'The OAuth session expired: enter the client secret again.' }).waitFor();
    expect(await page.getByLabel('Client ID').inputValue()).toBe(clientId);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await s.shot('oauth-expired');
    await page.getByLabel('Client secret').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(s.errors).toEqual([]);
  });
});
