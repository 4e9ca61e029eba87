/**
 * A bad bulk item is that item's error; its batch neighbours still succeed (issue 12). Before, an
 * item whose metadata nested 5 000 levels deep failed its whole batch of up to 1 000 items with
 * internal_error after 5 retries, and NUL bytes, lone surrogates or a year-0000 expires_at did the same.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobWorkers } from '../jobs/index.js';
import { ALWAYS_BODY, badValue, bodyWith } from './bad-values.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { count, results, startWorkers, waitForJob } from './jobs-helpers.js';

const deepMetadata = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('bulk jobs: one bad item is a per-row error', () => {
  let h: Harness;
  let workers: JobWorkers;
  const domain = 'go.bad-items.example.com';

  beforeAll(async () => {
    h = await createHarness('jobs_bad_items');
    await createDomain(h, domain);
    workers = startWorkers(h);
  });
  afterAll(async () => {
    await workers?.stop();
    await h?.close();
  });

  const ok = (path: string) => JSON.stringify({ domain, path, destination_url: `https://example.org/${path}` });
  const bad: [string, string, { code: string; field: string | null }][] = [
    ['metadata 5 000 deep', `{"domain":"${domain}","path":"deep","destination_url":"https://example.org/d","metadata":${deepMetadata(5000)}}`,
      { code: 'validation_failed', field: `metadata${'.a'.repeat(31)}` }],
    ['array 5 000 deep', `{"domain":"${domain}","path":"deep-array","destination_url":"https://example.org/d","metadata":{"x":${'['.repeat(5000)}${']'.repeat(5000)}}}`,
      { code: 'validation_failed', field: `metadata.x${'[0]'.repeat(30)}` }],
    ['NUL in a tag', JSON.stringify({ domain, path: 'nul', destination_url: 'https://example.org/n', tags: ['a\u0000'] }), { code: 'validation_failed', field: 'tags[0]' }],
    ['NUL in a metadata key', JSON.stringify({ domain, path: 'nul-key', destination_url: 'https://example.org/n', metadata: { 'k\u0000': 1 } }), { code: 'validation_failed', field: 'metadata.k\\u0000' }],
    ['lone surrogate', `{"domain":"${domain}","path":"surrogate","destination_url":"https://example.org/s","metadata":{"k":"\\ud800"}}`, { code: 'validation_failed', field: 'metadata.k' }],
    ['1e400 in metadata', `{"domain":"${domain}","path":"inf","destination_url":"https://example.org/i","metadata":{"n":1e400}}`, { code: 'validation_failed', field: 'metadata.n' }],
    ['expires_at year 0000', JSON.stringify({ domain, path: 'y0', destination_url: 'https://example.org/y', expires_at: '0000-01-01T00:00:00Z' }), { code: 'validation_failed', field: 'expires_at' }],
    ['expires_at past 9999', JSON.stringify({ domain, path: 'y10k', destination_url: 'https://example.org/y', expires_at: '9999-12-31T23:59:59-23:59' }), { code: 'validation_failed', field: 'expires_at' }],
    ['external_id NUL', JSON.stringify({ domain, external_id: 'e\u0000', destination_url: 'https://example.org/e' }), { code: 'validation_failed', field: 'external_id' }],
    ['utm NUL', JSON.stringify({ domain, path: 'utm', destination_url: 'https://example.org/u', utm: { source: '\u0000' } }), { code: 'validation_failed', field: 'utm.source' }],
  ];

  it('NDJSON: each bad item fails alone, every neighbour is created, in one attempt', async () => {
    const lines = [ok('first')];
    bad.forEach(([, line], i) => lines.push(line, ok(`after-${i}`)));
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk?operation=create', payload: lines.join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
    expect(r.statusCode).toBe(202);
    const id = r.json().job_id as string;
    const job = await waitForJob(h, id);
    expect(job).toMatchObject({ status: 'partially_succeeded', counts: { total: lines.length, succeeded: bad.length + 1, failed: bad.length, pending: 0 } });

    const errs = (await h.req({ method: 'GET', url: `/v1/jobs/${id}/errors?limit=1000` })).json();
    expect(errs.data.map((e: { index: number; code: string; field: string | null }) => ({ index: e.index, code: e.code, field: e.field })))
      .toEqual(bad.map(([, , want], i) => ({ index: 1 + 2 * i, ...want })));
    const out = await results(h, id);
    expect(out.filter((l) => l.status === 'created').map((l) => l.index)).toEqual([0, ...bad.map((_, i) => 2 + 2 * i)]);
    // no retry: the batch succeeded at its first attempt
    expect(await count(h, `SELECT count(*) AS n FROM job_batches b JOIN jobs j ON j.seq = b.job_seq WHERE j.id = $1 AND b.attempts = 0 AND b.state = 'done'`, [id])).toBe(1);
    expect(await count(h, `SELECT count(*) AS n FROM links WHERE path LIKE 'after-%' AND deleted_at IS NULL`)).toBe(bad.length);
  });

  it('JSON body: a 5 000-deep item is refused alone too', async () => {
    const payload = `{"operation":"create","items":[${ok('j-1')},{"domain":"${domain}","path":"j-deep","destination_url":"https://example.org/d","metadata":${deepMetadata(5000)}},${ok('j-2')}]}`;
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk', payload, headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(202);
    const job = await waitForJob(h, r.json().job_id);
    expect(job).toMatchObject({ status: 'partially_succeeded', counts: { total: 3, succeeded: 2, failed: 1 } });
    const errs = (await h.req({ method: 'GET', url: `/v1/jobs/${job.id}/errors` })).json();
    expect(errs.data).toEqual([{ index: 1, external_id: null, code: 'validation_failed', field: `metadata${'.a'.repeat(31)}`, message: expect.stringContaining('nests deeper than 32 levels') }]);
  });

  it('generated bad values in every item field: no item fails internal_error, no batch is retried, good neighbours are created', async () => {
    // every field of a bulk item (BulkItem = the single-link create body), the whole item too
    const fields: (string | number)[][] = [[], ['domain'], ['path'], ['destination_url'], ['utm'], ['utm', 'source'], ['routing'],
      ['routing', 'rules', 0, 'when', 'time', 'from'], ['routing', 'rules', 0, 'when', 'country', 0], ['routing', 'ab', 0, 'weight'],
      ['redirect_status'], ['forward_query'], ['tags'], ['tags', 0], ['expires_at'], ['disabled'], ['status'], ['metadata'], ['metadata', 'k'], ['external_id']];
    const base = { domain, destination_url: 'https://example.org/p', tags: ['t'], metadata: { k: 'v' }, utm: { source: 's' },
      routing: { rules: [{ when: { country: ['DE'], time: { from: '2030-01-01T00:00:00Z' } }, url: 'https://example.org/r' }], ab: [{ url: 'https://example.org/a', weight: 1 }] } };
    const seed = Number(process.env.FUZZ_SEED ?? 20261203);
    const values = [...ALWAYS_BODY, ...fc.sample(badValue, { seed, numRuns: 20 })];
    const lines: string[] = [];
    const good: number[] = [];
    fields.forEach((at, f) => values.forEach((bad, v) => {
      lines.push(bodyWith({ ...base, path: `fz-${f}-${v}` }, at, bad.json));
      good.push(lines.length);
      lines.push(ok(`fz-ok-${f}-${v}`));
    }));
    const r = await h.req({ method: 'POST', url: '/v1/links/bulk?operation=create', payload: lines.join('\n'), headers: { 'content-type': 'application/x-ndjson' } });
    expect(r.statusCode).toBe(202);
    const id = r.json().job_id as string;
    const job = await waitForJob(h, id, 60_000);
    expect(job.counts.pending).toBe(0);
    expect(job.counts.total).toBe(lines.length);
    const out = await results(h, id);
    const byIndex = new Map(out.map((l) => [l.index as number, l]));
    expect(good.filter((i) => byIndex.get(i)?.status !== 'created')).toEqual([]);
    const internal = out.filter((l) => (l.error as { code?: string } | undefined)?.code === 'internal_error');
    expect(internal).toEqual([]);
    expect(await count(h, `SELECT count(*) AS n FROM job_batches b JOIN jobs j ON j.seq = b.job_seq WHERE j.id = $1 AND b.attempts > 0`, [id])).toBe(0);
  });
});
