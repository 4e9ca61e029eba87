/**
 * Console in Chromium (issue 19): create a link with a geo rule in the form (a bad CIDR first: the
 * API's message appears beside that field), see a real redirect node serve the rule, and the two
 * clicks arrive in the link's analytics (totals, chart, top countries).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../shared/testing/index.js';
import { startConsoleStack, type ConsoleStack } from './console-stack.js';

const DOMAIN = 'go.rules-console.example.com';

/** GET `path` on the node for DOMAIN as a visitor from `ip` (the node trusts 127.0.0.1 as its proxy). */
function visit(port: number, path: string, ip: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: DOMAIN, 'x-forwarded-for': ip, 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console: a link with a geo rule, served and counted', () => {
  let s: ConsoleStack;

  beforeAll(async () => {
    s = await startConsoleStack('console_rules', { node: true });
    expect((await s.cp.call('POST', '/v1/domains', { hostname: DOMAIN })).status).toBe(201);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('creates the link in the form, shows the API field error, and the node serves the rule', async () => {
    const { page } = s;
    await s.signIn(s.adminKey);
    await page.getByRole('link', { name: 'New link' }).click();
    await page.getByLabel('Path').fill('uk-sale');
    await page.getByLabel('Destination URL').fill('https://www.example.com/all');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.getByLabel('Countries (ISO codes)').fill('gb');
    await page.getByLabel('Goes to URL').fill('https://www.example.com/uk');
    await page.getByLabel('IP addresses or CIDRs').fill('10.0.0.0/33');
    expect(await page.getByTestId('rule-preview-0').textContent()).toBe('A visitor from GB from an address in 10.0.0.0/33 goes to https://www.example.com/uk.');
    expect(await page.getByTestId('default-preview').textContent()).toBe('Everyone else goes to https://www.example.com/all.');
    await page.getByRole('button', { name: 'Create link' }).click();
    // 422 invalid_routing for routing.rules[0].when.ip[0]: shown under the IP field
    const ipError = page.locator('#rule0-ip-error');
    await ipError.waitFor();
    expect(await ipError.textContent()).toMatch(/^routing\.rules\[0\]\.when\.ip\[0\]: .*10\.0\.0\.0\/33/);
    await s.shot('link-form-field-error');

    await page.getByLabel('IP addresses or CIDRs').fill('');
    expect(await page.getByTestId('rule-preview-0').textContent()).toBe('A visitor from GB goes to https://www.example.com/uk.');
    await page.getByRole('button', { name: 'Create link' }).click();
    await page.getByRole('status').filter({ hasText: `Saved https://${DOMAIN}/uk-sale` }).waitFor();
    await expect.poll(() => page.locator('table.links tbody td.short span').allTextContents()).toEqual([`https://${DOMAIN}/uk-sale`]);

    const port = s.node!.port;
    await waitFor('the node serves the link', async () => (await visit(port, '/uk-sale', '8.8.8.8')).status === 302, 20_000, 50);
    expect(await visit(port, '/uk-sale', '81.2.69.160')).toEqual({ status: 302, location: 'https://www.example.com/uk' });
    expect(await visit(port, '/uk-sale', '8.8.8.8')).toEqual({ status: 302, location: 'https://www.example.com/all' });
    expect(s.errors).toEqual([]);
  });

  it('the clicks appear in the link analytics: totals, chart and top countries', async () => {
    const { page } = s;
    await page.getByRole('link', { name: `Stats of https://${DOMAIN}/uk-sale` }).click();
    await page.getByRole('heading', { name: `Analytics · https://${DOMAIN}/uk-sale` }).waitFor();
    // the node ships clicks in batches and the control plane ingests them: refresh until they are in
    await waitFor('clicks counted', async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForLoadState('networkidle');
      return (await page.getByTestId('total-clicks').textContent().catch(() => null)) === '3';
    }, 30_000, 500);
    expect(await page.getByRole('img', { name: /Clicks, QR scans and visitors per day: 3 clicks and 0 QR scans in all/ }).locator('canvas').count()).toBe(1);
    const countries = page.getByRole('table', { name: 'Countries' });
    expect(await countries.locator('tbody tr').allInnerTexts()).toEqual(['US\t2\t1', 'GB\t1\t1']);
    await s.shot('analytics-link');
    // the raw clicks as CSV, streamed by the API
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export clicks (CSV)' }).click()]);
    const lines = readFileSync(await csv.path(), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines.slice(1).filter((l) => l.includes(',GB,')).length).toBe(1);
    expect(s.errors).toEqual([]);
  });
});
