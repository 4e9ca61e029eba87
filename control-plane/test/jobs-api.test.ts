import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@linkplane/sdk';
import { linkKvKey, type CompiledLink } from '../../shared/index.js';
import { waitFor } from '../../shared/testing/index.js';
import { uuidToId } from '../ids.js';
import type { JobWorkers } from '../jobs/index.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { count, getJob, results, startWorkers, waitForJob } from './jobs-helpers.js';

const json = (payload: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST' as const,
  url: '/v1/links/bulk',
  payload: JSON.stringify(payload),
  headers: { 'content-type': 'application/json', ...headers },
});

describe('bulk jobs: API', () => {
  let h: Harness;
  let workers: JobWorkers;
  let domain: string;
  let other: string;

  beforeAll(async () => {
    h = await createHarness('jobs_api', { WEBHOOK_ALLOW_PRIVATE: 'true' });
    domain = await createDomain(h, 'go.bulk.example.com');
    other = await createDomain(h, 'go.other.example.com');
    workers = startWorkers(h);
  });
  afterAll(async () => {
    await workers.stop();
    await h.close();
  });

  it('a JSON job creates links; status, counts, results and the job event are exact', async () => {
    const items = [
      { domain, path: 'sku-1001', destination_url: 'https://shop.example.com/p/1001', tags: ['catalog', '2026'] },
      { domain, path: 'sku-1002', destination_url: 'https://shop.example.com/p/1002', utm: { source: 'catalog', medium: 'pim' } },
      { domain, path: 'sku-1003', destination_url: 'javascript:alert(1)' },
      { domain, external_id: 'pim-1004', destination_url: 'https://shop.example.com/p/1004' },
    ];
    const r = await h.req(json({ operation: 'create', items }));
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body.job_id).toMatch(/^job_[0-9A-Z]{26}$/);
    expect(r.headers.location).toBe(`/v1/jobs/${body.job_id}`);
    expect(body.job).toMatchObject({ id: body.job_id, operation: 'create', format: 'json', counts: { total: 4, succeeded: 0, failed: 0, pending: 4 } });
    expect(body.callback_secret).toBeUndefined();

    const job = await waitForJob(h, body.job_id);
    expect(job).toMatchObject({ status: 'partially_succeeded', counts: { total: 4, succeeded: 3, failed: 1, pending: 0 } });
    expect(job.timings.processing_ms).toBeGreaterThanOrEqual(0);

    const errs = (await h.req({ method: 'GET', url: `/v1/jobs/${body.job_id}/errors` })).json();
    expect(errs).toEqual({
      data: [{ index: 2, external_id: null, code: 'invalid_url', field: 'destination_url', message: 'destination_url: URL scheme must be http or https' }],
      next_cursor: null,
    });

    const lines = await results(h, body.job_id);
    expect(lines.map((l) => [l.index, l.status])).toEqual([[0, 'created'], [1, 'created'], [2, 'failed'], [3, 'created']]);
    expect(lines[0]).toMatchObject({ short_url: `https://${domain}/sku-1001`, external_id: null });
    expect(lines[3]).toMatchObject({ external_id: 'pim-1004' });
    expect(String(lines[3]!.short_url)).toMatch(new RegExp(`^https://${domain.replace(/\./g, '\\.')}/[0-9A-Za-z]{7}$`));

    const link = (await h.req({ method: 'GET', url: `/v1/links/${lines[1]!.link_id}` })).json();
    expect(link).toMatchObject({ path: 'sku-1002', destination_url: 'https://shop.example.com/p/1002', utm: { source: 'catalog', medium: 'pim' }, version: 1 });

    // a link.created event per created link (as the single path emits), then the job event
    const events = await h.pool.query<{ type: string; data: { id: string; status: string } }>(`SELECT type, data FROM events ORDER BY type LIKE 'job.%', id`);
    expect(events.rows.map((e) => e.type)).toEqual(['link.created', 'link.created', 'link.created', 'job.succeeded']);
    expect(events.rows.slice(0, 3).map((e) => e.data.id).sort()).toEqual([lines[0], lines[1], lines[3]].map((l) => l!.link_id).sort());
    expect(events.rows[3]!.data).toMatchObject({ id: body.job_id, status: 'partially_succeeded' });
    // outbox: one put per created link
    expect(await count(h, `SELECT count(*) AS n FROM link_outbox WHERE op = 'put' AND kv_key LIKE 'l.%'`)).toBe(3);
  });

  it('upsert, update, disable and delete by (domain, path) and by external_id', async () => {
    const run = async (operation: string, items: unknown[]) => {
      const r = await h.req(json({ operation, items }));
      expect(r.statusCode).toBe(202);
      return waitForJob(h, r.json().job_id);
    };
    let j = await run('upsert', [
      { domain, path: 'u-1', destination_url: 'https://example.org/1' },
      { domain, external_id: 'ext-u-2', path: 'u-2', destination_url: 'https://example.org/2' },
    ]);
    expect(j.counts).toEqual({ total: 2, succeeded: 2, failed: 0, pending: 0 });
    j = await run('upsert', [
      { domain, path: 'u-1', destination_url: 'https://example.org/1b' },
      { domain, external_id: 'ext-u-2', path: 'u-2', destination_url: 'https://example.org/2' }, // unchanged
      { domain: other, external_id: 'ext-u-2', path: 'moved', destination_url: 'https://example.org/2' }, // moves the same link
    ]);
    expect(j.status).toBe('succeeded');
    const lines = await results(h, j.id);
    expect(lines.map((l) => l.status)).toEqual(['updated', 'unchanged', 'updated']);
    expect(lines[2]!.short_url).toBe(`https://${other}/moved`);
    expect(await count(h, `SELECT count(*) AS n FROM links WHERE external_id = 'ext-u-2'`)).toBe(1);
    const moved = (await h.pool.query(`SELECT domain, path, version FROM links WHERE external_id = 'ext-u-2'`)).rows[0];
    expect(moved).toEqual({ domain: other, path: 'moved', version: 2 });

    j = await run('update', [
      { external_id: 'ext-u-2', tags: ['moved'] },
      { domain, path: 'nope', destination_url: 'https://example.org/x' },
    ]);
    expect(j.counts).toEqual({ total: 2, succeeded: 1, failed: 1, pending: 0 });
    const e = (await h.req({ method: 'GET', url: `/v1/jobs/${j.id}/errors` })).json();
    expect(e.data).toEqual([{ index: 1, external_id: null, code: 'link_not_found', field: 'path', message: `no live link at ${domain}/nope` }]);

    j = await run('disable', [{ domain, path: 'u-1' }]);
    expect(j.status).toBe('succeeded');
    expect((await h.pool.query(`SELECT disabled FROM links WHERE domain = $1 AND path = 'u-1'`, [domain])).rows[0]).toEqual({ disabled: true });

    j = await run('delete', [{ domain, path: 'u-1' }, { external_id: 'ext-u-2' }, { external_id: 'ext-u-2' }]);
    expect(j.counts).toEqual({ total: 3, succeeded: 2, failed: 1, pending: 0 });
    expect(await count(h, `SELECT count(*) AS n FROM links WHERE deleted_at IS NULL AND (path IN ('u-1', 'moved'))`)).toBe(0);
    const dels = await h.pool.query<{ kv_key: string }>(`SELECT kv_key FROM link_outbox WHERE op = 'del' ORDER BY seq`);
    expect(dels.rows.map((r) => r.kv_key)).toEqual(
      expect.arrayContaining([linkKvKey(domain, 'u-2'), linkKvKey(domain, 'u-1'), linkKvKey(other, 'moved')]),
    );
  });

  it('create never duplicates: a re-run reports conflicts; items without identity are rejected', async () => {
    const items = [{ domain, path: 'dup-1', destination_url: 'https://example.org/d' }, { domain, destination_url: 'https://example.org/no-id' }];
    const first = await waitForJob(h, (await h.req(json({ operation: 'create', items }))).json().job_id);
    expect(first.counts).toEqual({ total: 2, succeeded: 1, failed: 1, pending: 0 });
    const e1 = (await h.req({ method: 'GET', url: `/v1/jobs/${first.id}/errors` })).json();
    expect(e1.data[0]).toMatchObject({ index: 1, code: 'validation_failed', field: 'path' });
    const again = await waitForJob(h, (await h.req(json({ operation: 'create', items }))).json().job_id);
    expect(again.counts).toEqual({ total: 2, succeeded: 0, failed: 2, pending: 0 });
    expect(again.status).toBe('failed');
    const e2 = (await h.req({ method: 'GET', url: `/v1/jobs/${again.id}/errors` })).json();
    expect(e2.data[0]).toMatchObject({ index: 0, code: 'path_conflict', field: 'path' });
    expect(await count(h, `SELECT count(*) AS n FROM links WHERE path = 'dup-1'`)).toBe(1);
  });

  it('the same job submitted twice is one job (Idempotency-Key header, or idempotency_key in the body)', async () => {
    const items = [{ domain, path: 'idem-1', destination_url: 'https://example.org/i' }];
    const a = await h.req(json({ operation: 'upsert', items }, { 'idempotency-key': 'nightly-2026-04-01' }));
    const b = await h.req(json({ operation: 'upsert', items }, { 'idempotency-key': 'nightly-2026-04-01' }));
    expect(a.statusCode).toBe(202);
    expect(b.statusCode).toBe(202);
    expect(b.json().job_id).toBe(a.json().job_id);
    expect(b.headers['idempotent-replayed']).toBe('true');
    const c = await h.req(json({ operation: 'upsert', items: [...items, ...items] }, { 'idempotency-key': 'nightly-2026-04-01' }));
    expect(c.statusCode).toBe(422);
    expect(c.json().error.code).toBe('idempotency_key_reused');

    const body = { operation: 'upsert', items, idempotency_key: 'job-2026-04-01' };
    const d = await h.req(json(body));
    const e = await h.req(json(body));
    expect(e.json().job_id).toBe(d.json().job_id);
    const f = await h.req(json({ ...body, items: [{ ...items[0], destination_url: 'https://example.org/other' }] }));
    expect(f.statusCode).toBe(422);
    expect(f.json().error).toMatchObject({ code: 'idempotency_key_reused', details: { job_id: d.json().job_id } });
    expect(await count(h, `SELECT count(*) AS n FROM jobs WHERE idempotency_key IN ('nightly-2026-04-01', 'job-2026-04-01')`)).toBe(2);
    await waitForJob(h, d.json().job_id);
    expect(await count(h, `SELECT count(*) AS n FROM links WHERE path = 'idem-1'`)).toBe(1);
  });

  it('errors are paged by item index', async () => {
    const items = Array.from({ length: 7 }, (_, i) => ({ domain, path: `bad ${i}`, destination_url: 'https://example.org' }));
    const id = (await h.req(json({ operation: 'create', items }))).json().job_id;
    expect((await waitForJob(h, id)).counts.failed).toBe(7);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/jobs/${id}/errors?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await h.req({ method: 'GET', url })).json();
      expect(page.data.length).toBeLessThanOrEqual(3);
      for (const e of page.data) {
        seen.push(e.index);
        expect(e).toMatchObject({ code: 'invalid_path', field: 'path' });
      }
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('scopes: jobs:write to submit and cancel, links:read to read; jobs of other workspaces are 404', async () => {
    const ro = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'ro', role: 'read-only' } })).json().secret;
    const r = await h.req({ ...json({ operation: 'create', items: [] }), key: ro });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toMatchObject({ code: 'insufficient_scope', details: { required: 'jobs:write' } });
    const id = (await h.req(json({ operation: 'create', items: [] }))).json().job_id;
    expect((await h.req({ method: 'GET', url: `/v1/jobs/${id}`, key: ro })).statusCode).toBe(200);
    expect((await h.req({ method: 'POST', url: `/v1/jobs/${id}/cancel`, key: ro })).statusCode).toBe(403);
    const missing = await h.req({ method: 'GET', url: '/v1/jobs/job_01JAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('job_not_found');
  });

  it('an empty job succeeds at once; a finished job cannot be cancelled', async () => {
    const r = (await h.req(json({ operation: 'upsert', items: [] }))).json();
    expect(r.job).toMatchObject({ status: 'succeeded', counts: { total: 0, succeeded: 0, failed: 0, pending: 0 } });
    const c = await h.req({ method: 'POST', url: `/v1/jobs/${r.job_id}/cancel` });
    expect(c.statusCode).toBe(409);
    expect(c.json().error.code).toBe('job_not_cancellable');
  });

  it('cancel: batches not started are skipped, the job ends cancelled with exact counts', async () => {
    await workers.stop();
    try {
      const items = Array.from({ length: 50 }, (_, i) => ({ domain, path: `cx-${i}`, destination_url: 'https://example.org/c' }));
      const id = (await h.req(json({ operation: 'create', items }))).json().job_id;
      const c = await h.req({ method: 'POST', url: `/v1/jobs/${id}/cancel` });
      expect(c.statusCode).toBe(200);
      expect(c.json()).toMatchObject({ status: 'cancelled', counts: { total: 50, succeeded: 0, failed: 0, pending: 50 } });
      const job = await getJob(h, id);
      expect(job.status).toBe('cancelled');
      const ev = await h.pool.query(`SELECT type, data->>'status' AS status FROM events WHERE data->>'id' = $1`, [id]);
      expect(ev.rows).toEqual([{ type: 'job.failed', status: 'cancelled' }]);
      expect(await count(h, `SELECT count(*) AS n FROM links WHERE path LIKE 'cx-%'`)).toBe(0);
    } finally {
      workers = startWorkers(h);
    }
  });

  it('the callback is POSTed once the job finishes, signed like a webhook with the secret from the 202', async () => {
    const received: { headers: IncomingMessage['headers']; body: string }[] = [];
    let fail = 1; // the first attempt gets a 500: the callback is retried
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.statusCode = fail-- > 0 ? 500 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jobs/callback`;
      const r = await h.req(json({ operation: 'upsert', items: [{ domain, path: 'cb-1', destination_url: 'https://example.org/cb' }], callback_url: url }));
      expect(r.statusCode).toBe(202);
      const { job_id: id, callback_secret: secret } = r.json();
      expect(secret).toMatch(/^whsec_/);
      await waitFor('callback delivered', async () => (await getJob(h, id)).callback?.state === 'delivered', 15_000, 50);
      expect(received).toHaveLength(2);
      const last = received[1]!;
      const env = await verifyWebhook<{ id: string; status: string; counts: { succeeded: number } }>(last.body, last.headers as Record<string, string>, { id, secret });
      expect(env).toMatchObject({ type: 'job.succeeded', attempt: 2, data: { id, status: 'succeeded', counts: { succeeded: 1 } } });
      expect(last.headers['event-type']).toBe('job.succeeded');
      expect(String(last.headers['x-signature'])).toContain(`k=${id},h=sha256,s=`);
      const event = await h.pool.query(`SELECT id::text FROM events WHERE type = 'job.succeeded' AND data->>'id' = $1`, [id]);
      // ids a client sees are evt_… from the stored UUIDv7's bytes (docs/ids.md)
      expect(last.headers['event-id']).toBe(uuidToId('evt', event.rows[0]!.id));
      expect((await getJob(h, id)).callback).toMatchObject({ state: 'delivered', attempts: 2, last_status: 204 });
    } finally {
      server.close();
    }
  });

  it('callback URLs follow the webhook SSRF rules', async () => {
    const strict = await createHarness('jobs_ssrf');
    try {
      const d = await createDomain(strict);
      for (const url of ['http://127.0.0.1:9/x', 'https://10.0.0.1/x', 'https://localhost/x', 'ftp://example.com/x']) {
        const r = await strict.req({ ...json({ operation: 'create', items: [{ domain: d, path: 'x', destination_url: 'https://example.org' }], callback_url: url }) });
        expect(r.statusCode, url).toBe(422);
        expect(r.json().error).toMatchObject({ code: 'invalid_url', details: { field: 'callback_url' } });
      }
      expect(await count(strict, 'SELECT count(*) AS n FROM jobs')).toBe(0);
      expect(await count(strict, 'SELECT count(*) AS n FROM job_items')).toBe(0);
    } finally {
      await strict.close();
    }
  });

  it('the KV value of a bulk-created link is the compiled rule', async () => {
    const relay = await h.relay();
    relay.start();
    try {
      const id = (await h.req(json({ operation: 'upsert', items: [{ domain, path: 'kv-1', destination_url: 'https://example.org/kv', utm: { campaign: 'spring' } }] }))).json().job_id;
      await waitForJob(h, id);
      const { kv } = await h.nats();
      const e = await waitFor('kv entry', async () => kv.get(linkKvKey(domain, 'kv-1')), 5000);
      expect(e.json<CompiledLink>()).toMatchObject({ kind: 'link', domain, path: 'kv-1', destination: 'https://example.org/kv?utm_campaign=spring', version: 1 });
    } finally {
      await relay.stop();
    }
  });
});
