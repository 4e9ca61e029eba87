import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('GET /v1/links: search and cursor pagination', () => {
  let h: Harness;
  const domain = 'go.page.example.com';
  const other = 'go.other-page.example.com';

  beforeAll(async () => {
    h = await createHarness('pagination');
    await createDomain(h, domain);
    await createDomain(h, other);
    // 2 500 links through the API's own service path would take a while; insert them in SQL with the same shape
    await h.pool.query(
      `INSERT INTO links (id, workspace_id, domain_id, domain, path, destination_url, tags, created_at, updated_at)
       SELECT 'ln_' || lpad(upper(to_hex(1000000 + g)), 26, '0'), 'ws_default', d.id, d.hostname, 'p' || g,
              'https://example.org/item/' || g, CASE WHEN g % 10 = 0 THEN ARRAY['tenth'] ELSE ARRAY['other'] END,
              timestamptz '2026-01-01' + g * interval '1 minute', timestamptz '2026-01-01' + g * interval '1 minute'
       FROM generate_series(1, 2500) g, domains d WHERE d.hostname = $1`,
      [domain],
    );
  });
  afterAll(async () => {
    await h.close();
  });

  it('pages through 2 500 links while inserts happen: no duplicates, no gaps', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let inserted = 0;
    let pages = 0;
    do {
      const url: string = `/v1/links?domain=${domain}&limit=300${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await h.req({ method: 'GET', url });
      expect(r.statusCode).toBe(200);
      const body = r.json();
      seen.push(...body.data.map((l: { id: string }) => l.id));
      cursor = body.next_cursor;
      pages++;
      // meanwhile, new links arrive
      const ins = await Promise.all(
        Array.from({ length: 5 }, (_, i) => h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: `new-${pages}-${i}`, destination_url: 'https://example.org/new' } })),
      );
      inserted += ins.filter((x) => x.statusCode === 201).length;
    } while (cursor);
    const preexisting = seen.filter((id) => id.startsWith('ln_0000'));
    expect(preexisting.length).toBe(2500);
    expect(new Set(seen).size).toBe(seen.length);
    expect(inserted).toBe(pages * 5);
    // newest first
    const sorted = [...seen].sort().reverse();
    expect(seen).toEqual(sorted);
  });

  it('filters by tag, q, domain and date range; total_estimate counts the filter', async () => {
    const tag = (await h.req({ method: 'GET', url: `/v1/links?tag=tenth&limit=1000` })).json();
    expect(tag.total_estimate).toBe(250);
    expect(tag.data.length).toBe(250);
    const q = (await h.req({ method: 'GET', url: `/v1/links?q=${encodeURIComponent('item/123')}` })).json();
    expect(q.data.map((l: { path: string }) => l.path).sort()).toEqual(['p123', 'p1230', 'p1231', 'p1232', 'p1233', 'p1234', 'p1235', 'p1236', 'p1237', 'p1238', 'p1239']);
    const range = (await h.req({ method: 'GET', url: `/v1/links?created_from=2026-01-01T00:10:00Z&created_to=2026-01-01T00:20:00Z` })).json();
    expect(range.data.map((l: { path: string }) => l.path)).toEqual(['p19', 'p18', 'p17', 'p16', 'p15', 'p14', 'p13', 'p12', 'p11', 'p10']);
    const none = (await h.req({ method: 'GET', url: `/v1/links?domain=${other}` })).json();
    expect(none).toEqual({ data: [], next_cursor: null, total_estimate: 0 });
    const pct = (await h.req({ method: 'GET', url: `/v1/links?q=${encodeURIComponent('%')}` })).json();
    expect(pct.total_estimate).toBe(0); // LIKE wildcards are literal
  });
});
