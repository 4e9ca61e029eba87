/**
 * Console in Chromium (issue 19): sign in with a key, the links table over the API's search (filters,
 * copy), sign-out forgets the key, and an analyst key is offered no write action at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleStack, type ConsoleStack } from './console-stack.js';

const DOMAIN = 'go.console.example.com';

describe('console: sign in and the links table', () => {
  let s: ConsoleStack;

  beforeAll(async () => {
    s = await startConsoleStack('console_links');
    expect((await s.cp.call('POST', '/v1/domains', { hostname: DOMAIN })).status).toBe(201);
    for (const [path, tags] of [['spring-sale', ['email', 'spring']], ['docs', ['web']], ['app', ['email']]] as const) {
      const r = await s.cp.call('POST', '/v1/links', { domain: DOMAIN, path, destination_url: `https://www.example.com/${path}`, tags });
      expect(r.status).toBe(201);
    }
  });
  afterAll(async () => {
    await s?.close();
  });

  const shortUrls = () => s.page.locator('table.links tbody td.short span').allTextContents();

  it('signs in, lists links newest first, filters by tag and copies a short URL', async () => {
    const { page } = s;
    await s.signIn(s.adminKey);
    await page.locator('table.links tbody tr').nth(2).waitFor();
    expect(await shortUrls()).toEqual([`https://${DOMAIN}/app`, `https://${DOMAIN}/docs`, `https://${DOMAIN}/spring-sale`]);
    expect(await page.evaluate('sessionStorage.getItem("linkplane.key")')).toBe(s.adminKey);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    await expect.poll(() => page.locator('p.count').textContent()).toBe('3 shown of about 3');

    await page.getByLabel('Tag', { exact: true }).fill('email');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(shortUrls).toEqual([`https://${DOMAIN}/app`, `https://${DOMAIN}/spring-sale`]);

    await page.getByRole('button', { name: `Copy https://${DOMAIN}/app` }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(`https://${DOMAIN}/app`);
    await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
    await s.shot('links-table');
    expect(s.errors).toEqual([]);
  });

  it('sign-out forgets the key', async () => {
    const { page } = s;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key', { exact: true }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.reload();
    await page.getByLabel('API key', { exact: true }).waitFor(); // still signed out after a reload
    await page.getByLabel('API key', { exact: true }).fill('lp_not_a_real_key_0123456789');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That key is not valid' }).waitFor();
    await s.shot('sign-in-refused');
  });

  it('an analyst key sees no write buttons and no section it may not open', async () => {
    const { page } = s;
    await s.signIn(await s.key('analyst'));
    await page.locator('table.links tbody tr').nth(2).waitFor();
    expect(await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').allTextContents()).toEqual(['Links', 'Analytics', 'Bulk jobs']);
    const table = page.locator('table.links');
    expect(await table.getByRole('link').allTextContents()).toEqual(['Stats', 'Stats', 'Stats']);
    expect(await table.getByRole('button').allTextContents()).toEqual(['Copy', 'QR', 'Copy', 'QR', 'Copy', 'QR']);
    expect(await table.getByRole('checkbox').count()).toBe(0);
    expect(await page.getByRole('link', { name: 'New link' }).count()).toBe(0);
    // and a write page typed into the address bar is not offered either
    await page.goto('/ui/#/links/new');
    await page.getByRole('heading', { name: 'Not here' }).waitFor();
    await s.shot('analyst-links');
    expect(s.errors).toEqual([]);
  });

  it('a reviewer approves a link waiting under a require_approval policy', async () => {
    const { page } = s;
    expect((await s.cp.call('PUT', '/v1/policy', { require_approval: true })).status).toBe(200);
    const made = await s.cp.call('POST', '/v1/links', { domain: DOMAIN, path: 'needs-review', destination_url: 'https://www.example.com/review' });
    expect([made.status, made.json.status]).toEqual([201, 'pending']);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await s.signIn(await s.key('reviewer'));
    expect(await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').allTextContents()).toEqual(['Links', 'Bulk jobs', 'Review']);
    await page.getByRole('link', { name: 'Review' }).click();
    await page.getByRole('button', { name: `Approve https://${DOMAIN}/needs-review` }).click();
    await page.getByRole('status').filter({ hasText: `Approved https://${DOMAIN}/needs-review` }).waitFor();
    expect((await s.cp.call('GET', `/v1/links/${String(made.json.id)}`)).json.status).toBe('live');
    await s.shot('review-approved');
    expect(s.errors).toEqual([]);
  });
});
