/**
 * The issue's acceptance case: a 100 000-row CSV with 1 % invalid rows → exact counts, one error
 * row per bad item naming the field, one link per good row; a re-run changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobWorkers } from '../jobs/index.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { count, results, startWorkers, waitForJob } from './jobs-helpers.js';

const N = 100_000;

/** Every 100th row is bad, in one of five ways; `field` is what its error must name. */
const BAD: { row: (i: number, domain: string) => string; code: string; field: string }[] = [
  { row: (i, d) => `${d},sku-${i},ftp://shop.example.com/p/${i},catalog`, code: 'invalid_url', field: 'destination_url' },
  { row: (i, d) => `${d},sku ${i},https://shop.example.com/p/${i},catalog`, code: 'invalid_path', field: 'path' },
  { row: (i, d) => `${d},sku-${i},,catalog`, code: 'validation_failed', field: 'destination_url' },
  { row: (i) => `unknown.example.net,sku-${i},https://shop.example.com/p/${i},catalog`, code: 'domain_not_found', field: 'domain' },
  { row: (i, d) => `${d},sku-${i},https://10.0.0.7/p/${i},catalog`, code: 'invalid_url', field: 'destination_url' },
];

function catalogCsv(domain: string, version: string): { csv: string; bad: Map<number, (typeof BAD)[number]> } {
  const lines = ['domain,path,destination_url,tags'];
  const bad = new Map<number, (typeof BAD)[number]>();
  for (let i = 0; i < N; i++) {
    if (i % 100 === 42) {
      const b = BAD[(i / 100) % BAD.length | 0]!;
      bad.set(i, b);
      lines.push(b.row(i, domain));
    } else {
      lines.push(`${domain},sku-${i},https://shop.example.com/p/${i}?v=${version},"catalog,${version}"`);
    }
  }
  return { csv: `${lines.join('\n')}\n`, bad };
}

describe('a 100 000-row CSV with 1 % invalid rows', () => {
  let h: Harness;
  let workers: JobWorkers;
  let domain: string;

  beforeAll(async () => {
    h = await createHarness('jobs_100k');
    domain = await createDomain(h, 'go.catalog.example.com');
    workers = startWorkers(h, { workers: 2 });
  });
  afterAll(async () => {
    await workers.stop();
    await h.close();
  });

  it('exact counts, one error per bad row naming the field, one link per good row', async () => {
    const { csv, bad } = catalogCsv(domain, '1');
    const t0 = performance.now();
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk?operation=upsert', payload: csv, headers: { 'content-type': 'text/csv' } });
    const accepted = performance.now();
    expect(r.statusCode, r.body).toBe(202);
    const job = await waitForJob(h, r.json().job_id, 120_000);
    const done = performance.now();
    console.log(`100 000-row CSV (${(csv.length / 1e6).toFixed(1)} MB): accepted in ${(accepted - t0).toFixed(0)} ms, processed in ${(done - accepted).toFixed(0)} ms`);

    expect(job).toMatchObject({ status: 'partially_succeeded', counts: { total: N, succeeded: N - 1000, failed: 1000, pending: 0 } });
    expect(bad.size).toBe(1000);

    // every error row: the right item, code and field — exactly one per bad item
    const errs: { index: number; code: string; field: string }[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { index: number; code: string; field: string }[]; next_cursor: string | null } = (await h.req({ method: 'GET', url: `/v1/jobs/${job.id}/errors?limit=1000${cursor ? `&cursor=${cursor}` : ''}` })).json();
      errs.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    expect(errs).toHaveLength(1000);
    for (const e of errs) {
      const b = bad.get(e.index);
      expect(b, `error for good row ${e.index}`).toBeDefined();
      expect({ index: e.index, code: e.code, field: e.field }).toEqual({ index: e.index, code: b!.code, field: b!.field });
    }

    expect(await count(h, 'SELECT count(*) AS n FROM links WHERE deleted_at IS NULL')).toBe(N - 1000);
    expect(await count(h, 'SELECT count(DISTINCT path) AS n FROM links')).toBe(N - 1000);
    expect(await count(h, `SELECT count(*) AS n FROM link_outbox WHERE kv_key LIKE 'l.%'`)).toBe(N - 1000);
    const lines = await results(h, job.id);
    expect(lines).toHaveLength(N);
    expect(lines.every((l, i) => l.index === i)).toBe(true);
    expect(lines.filter((l) => l.status === 'created')).toHaveLength(N - 1000);
    expect(lines[7]).toMatchObject({ status: 'created', short_url: `https://${domain}/sku-7` });
  }, 180_000);

  it('the same CSV again: nothing changes, nothing is published', async () => {
    const outboxBefore = await count(h, 'SELECT count(*) AS n FROM link_outbox');
    const { csv } = catalogCsv(domain, '1');
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk?operation=upsert', payload: csv, headers: { 'content-type': 'text/csv' } });
    const job = await waitForJob(h, r.json().job_id, 120_000);
    expect(job.counts).toEqual({ total: N, succeeded: N - 1000, failed: 1000, pending: 0 });
    const lines = await results(h, job.id);
    expect(lines.filter((l) => l.status === 'unchanged')).toHaveLength(N - 1000);
    expect(await count(h, 'SELECT count(*) AS n FROM link_outbox')).toBe(outboxBefore);
    expect(await count(h, 'SELECT count(*) AS n FROM links')).toBe(N - 1000);
  }, 180_000);
});
