/**
 * The nightly catalog upsert against a live stack: a PIM CSV streamed into a bulk upsert, the job's
 * signed job.succeeded / job.failed webhook verified and handled once, a re-run of the same night
 * answered with the same job, and the next night's changes applied as updates.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linkplane } from '@linkplane/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '../../shared/testing/index.js';
import { listen, startLiveStack, type LiveStack } from '../testing/live-stack.js';
import { jobEventsHandler, jobReport, type JobEvent } from './job-events.js';
import { nightlyImport, type ImportOptions } from './nightly-import.js';

const DOMAIN = 'go.shop.example.com';
const dir = mkdtempSync(join(tmpdir(), 'lp-catalog-'));
const config = (night: string): ImportOptions => ({ domain: DOMAIN, productUrl: (sku) => `https://shop.example.com/p/${sku}`, campaign: 'spring_26', night, pollMs: 100 });

let stack: LiveStack;
let lp: Linkplane;
let publisherKey = '';
let receiver: Awaited<ReturnType<typeof listen>>;
const events: JobEvent[] = [];

function csv(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

beforeAll(async () => {
  stack = await startLiveStack('catalog');
  await stack.domain(DOMAIN);
  publisherKey = await stack.key('publisher');
  lp = new Linkplane({ apiUrl: stack.apiUrl, apiKey: publisherKey });
  const secrets: string[] = [];
  receiver = await listen(jobEventsHandler({ secrets, onJob: (e) => void events.push(e) }));
  const ep = await lp.webhooks.endpoints.create({ url: `${receiver.url}/hooks/linkplane`, events: ['job.*'] });
  secrets.push(ep.secret!); // shown in the creating answer only
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('nightly catalog upsert', () => {
  let firstJobId = '';

  it('imports the export; the job.succeeded webhook arrives once, verified, with the counts', async () => {
    const file = csv('2026-12-01.csv', 'sku,title,category,url\n1001,Trail shoe,shoes,\n1002,Sock,,\n1003,Bad row,misc,javascript:alert(1)\n');
    const job = await nightlyImport(lp, file, config('2026-12-01'));
    firstJobId = job.id;
    expect(job).toMatchObject({ operation: 'upsert', format: 'ndjson', status: 'partially_succeeded', counts: { total: 3, succeeded: 2, failed: 1, pending: 0 } });
    expect(await jobReport(lp, job)).toEqual({
      status: 'partially_succeeded',
      counts: { total: 3, succeeded: 2, failed: 1, pending: 0 },
      failed: [{ index: 2, external_id: 'pim-1003', code: 'invalid_url', field: 'destination_url' }],
    });
    await waitFor('job.succeeded delivered', () => events.length === 1, 30_000, 50);
    expect(events[0]).toMatchObject({ type: 'job.succeeded', job: { id: job.id, status: 'partially_succeeded', counts: { total: 3, succeeded: 2, failed: 1, pending: 0 } } });
    const shoe = (await lp.links.list({ domain: DOMAIN, external_id: 'pim-1001' }).toArray())[0];
    expect(shoe).toMatchObject({
      path: 'sku-1001', destination_url: 'https://shop.example.com/p/1001', tags: ['catalog', 'shoes'],
      utm: { source: 'catalog', medium: 'pim', campaign: 'spring_26' }, metadata: { title: 'Trail shoe' },
    });
  });

  it('a re-run of the same night is the same job (nothing imported twice, no second event)', async () => {
    const file = join(dir, '2026-12-01.csv');
    const job = await nightlyImport(lp, file, config('2026-12-01'));
    expect(job.id).toBe(firstJobId);
    expect((await lp.jobs.list().toArray()).length).toBe(1);
    await sleep(300);
    expect(events.length).toBe(1);
  });

  it('the next night: unchanged products write nothing, changed ones are updated, new ones created', async () => {
    const file = csv('2026-12-02.csv', 'sku,title,category,url\n1001,Trail shoe,shoes,\n1002,Wool sock,socks,\n1004,Cap,hats,\n');
    const job = await nightlyImport(lp, file, config('2026-12-02'));
    expect(job).toMatchObject({ status: 'succeeded', counts: { total: 3, succeeded: 3, failed: 0, pending: 0 } });
    const results = [];
    for await (const r of lp.jobs.results(job.id)) results.push([r.index, r.status, r.external_id]);
    expect(results).toEqual([[0, 'unchanged', 'pim-1001'], [1, 'updated', 'pim-1002'], [2, 'created', 'pim-1004']]);
    await waitFor('second job.succeeded', () => events.length === 2, 30_000, 50);
    expect(events[1]).toMatchObject({ type: 'job.succeeded', job: { id: job.id, status: 'succeeded' } });
  });

  it('a night where every row fails sends job.failed', async () => {
    const file = csv('2026-12-03.csv', 'sku,title,category,url\n2001,X,misc,ftp://files.example.com/x\n2002,Y,misc,http://127.0.0.1/admin\n');
    const job = await nightlyImport(lp, file, config('2026-12-03'));
    expect(job).toMatchObject({ status: 'failed', counts: { total: 2, succeeded: 0, failed: 2, pending: 0 } });
    await waitFor('job.failed', () => events.length === 3, 30_000, 50);
    expect(events[2]).toMatchObject({ type: 'job.failed', job: { id: job.id, status: 'failed' } });
    expect((await jobReport(lp, job)).failed.map((f) => [f.external_id, f.code])).toEqual([['pim-2001', 'invalid_url'], ['pim-2002', 'invalid_url']]);
  });

  it('the receiver refuses a forged job event', async () => {
    const body = JSON.stringify({ id: 'evt-forged', type: 'job.succeeded', occurred_at: new Date().toISOString(), data: { id: 'job_x' }, attempt: 1 });
    const t = Math.floor(Date.now() / 1000);
    const res = await fetch(`${receiver.url}/hooks/linkplane`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-signature': `t=${t},k=whk_x,h=sha256,s=${'ab'.repeat(32)}` },
    });
    expect(res.status).toBe(401);
    expect(events.length).toBe(3);
  });

  it('an upload whose answer is lost is sent again with the same key: one job, imported once', async () => {
    // a proxy in front of the API that lets the first bulk upload through, then drops its answer
    let dropped = 0;
    const proxy = await listen(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'transfer-encoding', 'content-length'].includes(k))) as Record<string, string>;
      const upstream = await fetch(`${stack.apiUrl}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      const body = Buffer.from(await upstream.arrayBuffer());
      if (req.method === 'POST' && req.url?.startsWith('/v1/links/bulk') && dropped++ === 0) return void req.socket.destroy();
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body);
    });
    try {
      const viaProxy = new Linkplane({ apiUrl: proxy.url, apiKey: publisherKey });
      const file = csv('2026-12-04.csv', 'sku,title,category\n3001,Scarf,winter\n3002,Glove,winter\n');
      const job = await nightlyImport(viaProxy, file, config('2026-12-04'));
      expect(dropped).toBe(2); // the first answer was lost, the second upload got the same job
      expect(job).toMatchObject({ status: 'succeeded', counts: { total: 2, succeeded: 2, failed: 0, pending: 0 } });
      expect((await lp.jobs.list().toArray()).filter((j) => j.created_at >= job.created_at).map((j) => j.id)).toEqual([job.id]);
      await waitFor('its job.succeeded', () => events.length === 4, 30_000, 50);
      expect(events[3]).toMatchObject({ type: 'job.succeeded', job: { id: job.id } });
    } finally {
      await proxy.close();
    }
  });
});
