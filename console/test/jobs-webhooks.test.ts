/**
 * Console in Chromium (issue 19): upload a bulk CSV and watch the job finish with its per-row error;
 * create a webhook endpoint (secret shown once), see its delivery dead-lettered by a failing receiver,
 * and replay it from the console once the receiver works.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleStack, type ConsoleStack } from './console-stack.js';

const DOMAIN = 'go.jobs-console.example.com';

describe('console: bulk jobs and webhook replay', () => {
  let s: ConsoleStack;
  let receiver: Server;
  let receiverUrl: string;
  let answer = 500;
  const received: string[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(`${answer} ${(JSON.parse(body) as { type: string }).type}`);
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // one quick retry, then the dead-letter queue
    s = await startConsoleStack('console_jobs', { cpEnv: { WEBHOOK_RETRY_SCHEDULE: '100ms', WEBHOOK_RETRY_JITTER: '0', WEBHOOK_POLL_MS: '50' } });
    expect((await s.cp.call('POST', '/v1/domains', { hostname: DOMAIN })).status).toBe(201);
    await s.signIn(s.adminKey);
  });
  afterAll(async () => {
    await s?.close();
    await new Promise((r) => receiver?.close(r));
  });

  it('uploads a CSV, shows the job finishing and its per-row error', async () => {
    const { page } = s;
    await page.getByRole('link', { name: 'Bulk jobs' }).click();
    const csv = ['domain,path,destination_url,tags', `${DOMAIN},one,https://www.example.com/1,bulk`, `${DOMAIN},two,https://www.example.com/2,bulk`, `${DOMAIN},three,ftp://www.example.com/3,bulk`].join('\n');
    await page.getByLabel('File (CSV or NDJSON)').setInputFiles({ name: 'links.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('status').filter({ hasText: 'Uploaded links.csv: job job_' }).waitFor();
    const row = page.locator('table.jobs tbody tr').first();
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 30_000 }).toBe('partially succeeded');
    expect((await row.innerText()).split('\t').slice(1, 5)).toEqual(['create · csv', 'partially succeeded', ' 3 / 3', '1']);
    await row.getByRole('button', { name: /^Show errors of job_/ }).click();
    const errors = page.locator('table.job-errors tbody tr');
    await errors.first().waitFor();
    expect((await errors.allInnerTexts()).map((t) => t.split('\t').slice(0, 4))).toEqual([['2', '', 'invalid_url', 'destination_url']]);
    await s.shot('bulk-job');
    expect((await s.cp.call('GET', `/v1/links?domain=${DOMAIN}&tag=bulk`)).json.data).toHaveLength(2);
  });

  it('creates an endpoint (secret shown once) and replays its dead-lettered delivery', async () => {
    const { page } = s;
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.getByLabel('Endpoint URL').fill(receiverUrl);
    await page.getByLabel('Events').fill('link.*');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    expect(await page.getByTestId('secret').textContent()).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'I stored it' }).click();
    expect(await page.getByTestId('secret').count()).toBe(0);

    expect((await s.cp.call('POST', '/v1/links', { domain: DOMAIN, path: 'hooked', destination_url: 'https://www.example.com/h' })).status).toBe(201);
    await page.getByLabel('Delivery status').selectOption('dead');
    const dead = page.locator('table.deliveries tbody tr[data-delivery-id]');
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Refresh deliveries' }).click();
      return dead.count();
    }, { timeout: 30_000 }).toBe(1);
    expect((await dead.innerText()).split('\t').slice(0, 4)).toEqual(['link.created', 'dead letter', '2', '500']);
    expect(received).toEqual(['500 link.created', '500 link.created']);
    await dead.getByRole('button', { name: /^\d+ attempts of whd_/ }).click();
    expect(await page.locator('ol.attempts li').count()).toBe(2);

    answer = 204;
    await dead.getByRole('button', { name: /^Replay whd_/ }).click();
    await page.getByRole('status').filter({ hasText: /Delivery whd_\w+ queued again/ }).waitFor();
    await page.getByLabel('Delivery status').selectOption('succeeded');
    const ok = page.locator('table.deliveries tbody tr[data-delivery-id]');
    await expect.poll(async () => {
      await page.getByRole('button', { name: 'Refresh deliveries' }).click();
      return ok.count();
    }, { timeout: 30_000 }).toBe(1);
    expect((await ok.innerText()).split('\t').slice(0, 4)).toEqual(['link.created', 'succeeded', '3', '204']);
    expect(received).toEqual(['500 link.created', '500 link.created', '204 link.created']);
    await s.shot('webhook-replayed');
    expect(s.errors).toEqual([]);
  });
});
