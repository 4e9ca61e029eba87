/**
 * Streamed uploads: CSV and NDJSON bodies become jobs; a malformed line, a body past
 * BULK_MAX_BYTES, a wrong content type or a client that goes away mid-upload get a clear error
 * and leave nothing behind (no job, no staged item, no link, no open transaction).
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../shared/testing/index.js';
import type { JobWorkers } from '../jobs/index.js';
import { ADMIN_SECRET, createDomain, createHarness, type Harness } from './harness.js';
import { jobFootprint, results, startWorkers, waitForJob } from './jobs-helpers.js';

const MAX = 64 * 1024;
const domain = 'go.shop.example.com';

describe('bulk uploads: formats and rejected bodies', () => {
  let h: Harness;
  let workers: JobWorkers;
  let port: number;

  const post = (url: string, payload: string | Buffer, contentType: string) =>
    h.req({ method: 'POST', url, payload, headers: { 'content-type': contentType } });

  /** Nothing of a rejected upload may remain, and no transaction may stay open. */
  async function expectNothingWritten(before: Awaited<ReturnType<typeof jobFootprint>>): Promise<void> {
    expect(await jobFootprint(h)).toEqual(before);
    await waitFor('no open transaction', async () => {
      const { rows } = await h.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
      );
      return Number(rows[0]!.n) === 0;
    }, 5000);
  }

  beforeAll(async () => {
    h = await createHarness('jobs_upload', { BULK_MAX_BYTES: String(MAX) });
    await createDomain(h, domain);
    workers = startWorkers(h);
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await workers.stop();
    await h.close();
  });

  it('CSV: header row, every column type, quoted cells; one link per row', async () => {
    const csv = [
      'domain,path,destination_url,external_id,tags,utm_source,utm_medium,utm_campaign,redirect_status,forward_query,expires_at,disabled,status,metadata',
      `${domain},sku-1,https://shop.example.com/p/1,pim-1,"catalog,2026",catalog,pim,spring_26,301,true,2030-01-01T00:00:00Z,false,live,"{""sku"":1}"`,
      `${domain},sku-2,https://shop.example.com/p/2,pim-2,catalog|misc,,,,,,,,pending,`,
      `${domain},sku-3,not a url,pim-3,,,,,,,,,,`,
      `${domain},sku-4,https://shop.example.com/p/4,pim-4,,,,,abc,,,,,`,
    ].join('\r\n');
    const r = await post('/v1/links/bulk?operation=upsert', csv, 'text/csv; charset=utf-8');
    expect(r.statusCode).toBe(202);
    const job = await waitForJob(h, r.json().job_id);
    expect(job).toMatchObject({ format: 'csv', operation: 'upsert', status: 'partially_succeeded', counts: { total: 4, succeeded: 2, failed: 2, pending: 0 } });
    expect(job.upload_bytes).toBe(Buffer.byteLength(csv));
    const errs = (await h.req({ method: 'GET', url: `/v1/jobs/${job.id}/errors` })).json().data;
    expect(errs).toEqual([
      { index: 2, external_id: 'pim-3', code: 'invalid_url', field: 'destination_url', message: 'destination_url: must be an absolute URL' },
      { index: 3, external_id: 'pim-4', code: 'validation_failed', field: 'redirect_status', message: expect.stringMatching(/^redirect_status: /) },
    ]);
    const { rows } = await h.pool.query(
      `SELECT path, tags, utm, redirect_status, forward_query, expires_at, disabled, status, metadata, external_id FROM links ORDER BY path`,
    );
    expect(rows).toEqual([
      { path: 'sku-1', tags: ['catalog', '2026'], utm: { source: 'catalog', medium: 'pim', campaign: 'spring_26' }, redirect_status: 301,
        forward_query: true, expires_at: new Date('2030-01-01T00:00:00Z'), disabled: false, status: 'live', metadata: { sku: 1 }, external_id: 'pim-1' },
      { path: 'sku-2', tags: ['catalog', 'misc'], utm: null, redirect_status: null, forward_query: false, expires_at: null, disabled: false,
        status: 'pending', metadata: {}, external_id: 'pim-2' },
    ]);
  });

  it('NDJSON: one item per line', async () => {
    const body = [
      JSON.stringify({ domain, path: 'nd-1', destination_url: 'https://example.org/1' }),
      '',
      JSON.stringify({ domain, path: 'nd-2', destination_url: 'https://example.org/2', tags: ['x'] }),
    ].join('\n');
    const r = await post('/v1/links/bulk?operation=create', body, 'application/x-ndjson');
    expect(r.statusCode).toBe(202);
    const job = await waitForJob(h, r.json().job_id);
    expect(job).toMatchObject({ format: 'ndjson', status: 'succeeded', counts: { total: 2, succeeded: 2, failed: 0 } });
    expect((await results(h, job.id)).map((l) => l.short_url)).toEqual([`https://${domain}/nd-1`, `https://${domain}/nd-2`]);
  });

  const rejected: { name: string; url: string; body: string; type: string; status: number; error: Record<string, unknown> }[] = [
    {
      name: 'a malformed CSV line (quote inside an unquoted field)',
      url: '/v1/links/bulk?operation=upsert', type: 'text/csv',
      body: `domain,path,destination_url\n${domain},ok-1,https://example.org/1\n${domain},bad"quote,https://example.org/2\n`,
      status: 400, error: { code: 'invalid_csv', details: { field: 'body', line: 3, column: 2, reason: 'bare_quote' } },
    },
    {
      name: 'a CSV line with a missing field',
      url: '/v1/links/bulk?operation=upsert', type: 'text/csv',
      body: `domain,path,destination_url\n${domain},ok-1,https://example.org/1\n${domain},short\n`,
      status: 400, error: { code: 'invalid_csv', details: { field: 'body', line: 3, column: 3, reason: 'field_count', expected: 3, got: 2 } },
    },
    {
      name: 'a CSV quote never closed',
      url: '/v1/links/bulk?operation=upsert', type: 'text/csv',
      body: `domain,path,destination_url\n${domain},"ok-1,https://example.org/1\n`,
      status: 400, error: { code: 'invalid_csv', details: { line: 2, column: 2, reason: 'unclosed_quote' } },
    },
    {
      name: 'an unknown CSV column',
      url: '/v1/links/bulk?operation=upsert', type: 'text/csv',
      body: `domain,path,destination,url\n${domain},x,https://example.org/1,y\n`,
      status: 400, error: { code: 'validation_failed', details: { field: 'csv.header', column: 3, column_name: 'destination', reason: 'unknown_column' } },
    },
    {
      name: 'an NDJSON line that is not JSON',
      url: '/v1/links/bulk?operation=create', type: 'application/x-ndjson',
      body: `{"domain":"${domain}","path":"n1","destination_url":"https://example.org"}\n{"domain":\n`,
      status: 400, error: { code: 'invalid_json', details: { field: 'body', line: 2 } },
    },
    {
      name: 'a JSON item that is not JSON',
      url: '/v1/links/bulk', type: 'application/json',
      body: `{"operation":"create","items":[{"domain":"${domain}","path":"j1","destination_url":"https://example.org"},{"domain":,}]}`,
      status: 400, error: { code: 'invalid_json', details: { field: 'items[1]' } },
    },
    {
      name: 'a JSON body with an unknown field',
      url: '/v1/links/bulk', type: 'application/json', body: '{"operation":"create","items":[],"callback":"x"}',
      status: 400, error: { code: 'validation_failed', details: { field: 'callback', reason: 'unknown_field' } },
    },
    {
      name: 'a JSON body without operation',
      url: '/v1/links/bulk', type: 'application/json', body: `{"items":[{"domain":"${domain}","path":"j1","destination_url":"https://example.org"}]}`,
      status: 400, error: { code: 'validation_failed', details: { field: 'operation', reason: 'required' } },
    },
    {
      name: 'a CSV body without ?operation=',
      url: '/v1/links/bulk', type: 'text/csv', body: `domain,path,destination_url\n${domain},x,https://example.org\n`,
      status: 400, error: { code: 'validation_failed', details: { field: 'operation', in: 'querystring', reason: 'required' } },
    },
    {
      name: 'an unknown operation',
      url: '/v1/links/bulk?operation=merge', type: 'text/csv', body: `domain,path,destination_url\n${domain},x,https://example.org\n`,
      status: 400, error: { code: 'validation_failed', details: { field: 'operation', in: 'querystring' } },
    },
    {
      name: 'a wrong content type',
      url: '/v1/links/bulk?operation=create', type: 'application/xml', body: '<items/>',
      status: 415, error: { code: 'unsupported_media_type' },
    },
    {
      name: 'a body past BULK_MAX_BYTES',
      url: '/v1/links/bulk?operation=create', type: 'application/x-ndjson',
      body: Array.from({ length: 2000 }, (_, i) => JSON.stringify({ domain, path: `big-${i}`, destination_url: 'https://example.org/big' })).join('\n'),
      status: 413, error: { code: 'body_too_large', details: { limit: MAX } },
    },
  ];
  rejected.forEach((c) => {
    it(`${c.name} → ${c.status} ${String(c.error.code)}, nothing written`, async () => {
      const before = await jobFootprint(h);
      const r = await post(c.url, c.body, c.type);
      expect(r.statusCode, r.body).toBe(c.status);
      expect(r.json().error).toMatchObject(c.error);
      await expectNothingWritten(before);
    });
  });

  it('a streamed body (no Content-Length) past BULK_MAX_BYTES is cut off with 413 while it streams', async () => {
    const before = await jobFootprint(h);
    const line = `${JSON.stringify({ domain, path: 'stream-x', destination_url: 'https://example.org/stream' })}\n`;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({
        host: '127.0.0.1', port, method: 'POST', path: '/v1/links/bulk?operation=upsert',
        headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' },
      }, (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: b }));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < MAX * 4) {
          sent += line.length;
          if (!req.write(line)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe('body_too_large');
    await expectNothingWritten(before);
  });

  it('a client that goes away mid-upload leaves nothing', async () => {
    const before = await jobFootprint(h);
    const req = httpRequest({
      host: '127.0.0.1', port, method: 'POST', path: '/v1/links/bulk?operation=upsert',
      headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'text/csv', 'content-length': '60000' },
    });
    req.on('error', () => undefined);
    req.write(`domain,path,destination_url\n${domain},gone-1,https://example.org/1\n`);
    await new Promise((r) => setTimeout(r, 200));
    req.destroy();
    await new Promise((r) => setTimeout(r, 300));
    await expectNothingWritten(before);
  });
});
