/**
 * GET /v1/jobs (issue 15): newest first, filtered by status and operation, cursor-paged like the
 * other lists, and only the jobs the key may see (as GET /v1/jobs/{id}: a key limited to some
 * domains sees the jobs of keys limited to those domains or fewer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

interface Page { data: { id: string; operation: string; status: string; counts: { total: number } }[]; next_cursor: string | null }

describe('GET /v1/jobs', () => {
  let h: Harness;
  let A: string;
  const jobs: Record<string, string> = {};
  let limitedA: string;
  beforeAll(async () => {
    h = await createHarness('job_list', { JOB_WORKERS: '0' }); // jobs stay queued: statuses are exact
    A = await createDomain(h);
    const B = await createDomain(h);
    limitedA = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'a', role: 'publisher', domains: [A] } })).json<{ secret: string }>().secret;
    const submit = async (name: string, operation: string, domain: string, key?: string) => {
      const r = await h.req({ method: 'POST', url: '/v1/links/bulk', ...(key ? { key } : {}), payload: { operation, items: [{ domain, path: name, destination_url: 'https://example.org/' }] } });
      expect([name, r.statusCode]).toEqual([name, 202]);
      jobs[name] = r.json<{ job_id: string }>().job_id;
    };
    await submit('admin1', 'create', A);
    await submit('admin2', 'delete', B);
    await submit('limitedA', 'create', A, limitedA);
    await submit('admin3', 'create', B);
  });
  afterAll(async () => h?.close());

  const list = async (query: string, key?: string) => {
    const r = await h.req({ method: 'GET', url: `/v1/jobs${query}`, ...(key ? { key } : {}) });
    expect([query, r.statusCode]).toEqual([query, 200]);
    return r.json<Page>();
  };

  it('lists every job of the workspace, newest first, as GET /v1/jobs/{id} shows them', async () => {
    const page = await list('');
    expect(page.data.map((j) => j.id)).toEqual([jobs.admin3, jobs.limitedA, jobs.admin2, jobs.admin1]);
    expect(page.next_cursor).toBeNull();
    const one = await h.req({ method: 'GET', url: `/v1/jobs/${jobs.admin2}` });
    expect(page.data[2]).toEqual(one.json());
    expect(page.data[2]).toMatchObject({ operation: 'delete', status: 'queued', counts: { total: 1 } });
  });

  it('filters by operation and status', async () => {
    expect((await list('?operation=delete')).data.map((j) => j.id)).toEqual([jobs.admin2]);
    expect((await list('?operation=create&status=queued')).data.map((j) => j.id)).toEqual([jobs.admin3, jobs.limitedA, jobs.admin1]);
    expect((await list('?status=succeeded')).data).toEqual([]);
  });

  it('pages with next_cursor without repeats or gaps', async () => {
    const first = await list('?limit=3');
    expect(first.data.map((j) => j.id)).toEqual([jobs.admin3, jobs.limitedA, jobs.admin2]);
    expect(first.next_cursor).not.toBeNull();
    const second = await list(`?limit=3&cursor=${first.next_cursor}`);
    expect([second.data.map((j) => j.id), second.next_cursor]).toEqual([[jobs.admin1], null]);
  });

  it('a key limited to domain A sees only jobs of keys limited to A', async () => {
    expect((await list('', limitedA)).data.map((j) => j.id)).toEqual([jobs.limitedA]);
  });

  it('bad filters and cursors are 400', async () => {
    for (const [query, code] of [['?status=done', 'validation_failed'], ['?operation=copy', 'validation_failed'], ['?cursor=nope', 'invalid_cursor'], ['?limit=201', 'validation_failed']]) {
      const r = await h.req({ method: 'GET', url: `/v1/jobs${query}` });
      expect([query, r.statusCode, r.json<{ error: { code: string } }>().error.code]).toEqual([query, 400, code]);
    }
  });
});
