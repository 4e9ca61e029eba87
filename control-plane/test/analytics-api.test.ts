/**
 * Analytics API over clicks that went through the real ingest: every group_by the OpenAPI document
 * lists (for a link and for the workspace), both intervals and the workspace views equal counts
 * computed from the raw rows (with some rollups compacted and some
 * still as deltas); raw clicks page without gaps and export as NDJSON and CSV; scopes, domain
 * limits and bad parameters answer with the right codes.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type ClickEvent } from '../../shared/index.js';
import { waitFor } from '../../shared/testing/index.js';
import { createClickPipeline, type ClickIngest, type RollupCompactor } from '../ingest/index.js';
import { createMetrics } from '../metrics.js';
import { clickCount, makeClicks, publishClicks, type FixtureLink } from './click-fixtures.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { uuidToId } from '../ids.js';

const HOUR = 3_600_000;
/** Every stats answer, a link's or the workspace's, has exactly these fields. */
const STATS_KEYS = ['exclude_bots', 'from', 'group_by', 'groups', 'interval', 'link_id', 'series', 'to', 'totals'];
const DAY = 24 * HOUR;

const VALUE_SQL: Record<string, string> = {
  country: `coalesce(country, '')`,
  device: `coalesce(device, '')`,
  os: `coalesce(os, '')`,
  browser: `coalesce(browser, '')`,
  referrer: `coalesce(referrer_host, '')`,
  variant: `CASE WHEN variant_id IS NULL THEN '' WHEN rule_id IS NULL THEN variant_id ELSE rule_id || '/' || variant_id END`,
  source: `CASE WHEN qr THEN 'qr' ELSE 'click' END`,
  language: `coalesce(language, '')`,
  rule: `coalesce(rule_id, '')`,
  node: 'node_id',
  utm_source: `coalesce(utm->>'source', '')`,
  utm_medium: `coalesce(utm->>'medium', '')`,
  utm_campaign: `coalesce(utm->>'campaign', '')`,
  utm_term: `coalesce(utm->>'term', '')`,
  utm_content: `coalesce(utm->>'content', '')`,
  bot: `CASE WHEN bot THEN 'bot' ELSE 'human' END`,
};

/** The group_by values the served OpenAPI document lists for an operation. */
type OpenApiDoc = { paths: Record<string, Record<string, { operationId: string; parameters: { name: string; in: string; schema: { enum?: string[] } }[] }>> };
const groupByEnum = (doc: OpenApiDoc, operationId: string): string[] => {
  const op = Object.values(doc.paths).flatMap((p) => Object.values(p)).find((o) => o.operationId === operationId)!;
  return op.parameters.find((x) => x.name === 'group_by' && x.in === 'query')!.schema.enum!;
};

/** Varies what the fixture keeps constant: every UTM key, rules that choose no variant. */
function varied(clicks: ClickEvent[]): ClickEvent[] {
  return clicks.map((c, i) => {
    if (c.path === 'with-utm') {
      const utm: Record<string, string> = { source: i % 3 === 0 ? 'ads' : 'newsletter', medium: i % 2 === 0 ? 'email' : 'social', campaign: 'spring' };
      if (i % 3 === 1) utm.term = 'shoes';
      if (i % 5 === 0) utm.content = 'banner';
      return { ...c, utm };
    }
    if (c.path === 'plain' && i % 4 === 0) return { ...c, ruleId: 'geo-de' };
    return c;
  });
}

/**
 * Clicks and visitors from the raw rows: a visitor counts at its first click of the (UTC) day on
 * the link that was stored (earlier transaction first — received_at — then time order within one).
 */
const rawSql = (group: string, where: string) => `
  WITH c AS (
    SELECT *, row_number() OVER (PARTITION BY link_id, (occurred_at AT TIME ZONE 'UTC')::date, visitor_hash ORDER BY received_at, id) = 1 AS first
      FROM clicks)
  SELECT ${group} AS value, count(*)::int AS clicks, (count(*) FILTER (WHERE first))::int AS visitors
    FROM c WHERE ${where} GROUP BY 1`;

type Row = { value: string | null; clicks: number; visitors: number };
const ranked = (rows: Row[]) =>
  rows.map((r) => ({ ...r, value: r.value === '' ? null : r.value }))
    .sort((a, b) => b.clicks - a.clicks || ((a.value ?? '') < (b.value ?? '') ? -1 : (a.value ?? '') > (b.value ?? '') ? 1 : 0));

describe('analytics API', () => {
  let h: Harness;
  let ingest: ClickIngest;
  let compactor: RollupCompactor;
  let links: FixtureLink[];
  let other: FixtureLink;
  let domainA: string;
  const end = Math.floor(Date.now() / HOUR) * HOUR - HOUR; // whole hours, in the past
  const start = end - 30 * HOUR;
  let sent: ClickEvent[] = [];
  let doc: OpenApiDoc;

  beforeAll(async () => {
    h = await createHarness('clkapi');
    domainA = await createDomain(h);
    const domainB = await createDomain(h);
    links = [];
    for (const path of ['plain', 'ab-split', 'with-utm']) {
      const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: domainA, path, destination_url: `https://example.org/${path}` } });
      links.push({ id: r.json<{ id: string }>().id, workspaceId: '', domain: domainA, path });
    }
    const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain: domainB, path: 'elsewhere', destination_url: 'https://example.org/b' } });
    other = { id: r.json<{ id: string }>().id, workspaceId: '', domain: domainB, path: 'elsewhere' };
    const ws = (await h.pool.query<{ workspace_id: string }>('SELECT workspace_id FROM links LIMIT 1')).rows[0]!.workspace_id;
    for (const l of [...links, other]) l.workspaceId = ws;

    const { nc } = await h.nats();
    const log = createLogger({ name: 'test-clkapi', level: process.env.LP_TEST_LOG ?? 'silent' });
    ({ ingest, compactor } = createClickPipeline({ pool: h.pool, nats: async () => nc, config: h.config, log, metrics: createMetrics() }));
    ingest.start();
    // first half compacted into click_rollup_hours, second half left as deltas: reads must see both
    const first = varied(makeClicks(3000, [...links, other], { start, spacingMs: 18_000, visitors: 400, seed: 3 }));
    await publishClicks(nc, h.prefix, first, { batchIdPrefix: 'a' });
    await waitFor('first half', async () => (await clickCount(h.pool)) === 3000, 30_000, 100);
    await compactor.drain();
    const second = varied(makeClicks(3000, [...links, other], { start: start + 1000, spacingMs: 18_000, visitors: 400, seed: 4, nodeId: 'node-u' }));
    const evil = { ...second[0]!, path: '=HYPERLINK("http://evil.example")', utm: { source: '+cmd' } };
    second[0] = evil;
    await publishClicks(nc, h.prefix, second, { batchIdPrefix: 'b', nodeId: 'node-u' });
    doc = (await h.req({ method: 'GET', url: '/v1/openapi.json' })).json<OpenApiDoc>();
    await waitFor('second half', async () => (await clickCount(h.pool)) === 6000, 30_000, 100);
    sent = [...first, ...second];
  });

  afterAll(async () => {
    await ingest?.stop();
    await compactor?.stop();
    await h?.close();
  });

  const range = () => `from=${new Date(start - DAY).toISOString()}&to=${new Date(end + DAY).toISOString()}`;

  it('has data both compacted and still as deltas', async () => {
    const n = async (t: string) => Number((await h.pool.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
    expect(await n('click_rollup_hours')).toBeGreaterThan(0);
    expect(await n('click_rollup_deltas')).toBeGreaterThan(0);
  });

  it('the document lists exactly the dimensions this test checks, for a link and for the workspace (plus link)', () => {
    expect(groupByEnum(doc, 'getLinkStats').sort()).toEqual(Object.keys(VALUE_SQL).sort());
    expect(groupByEnum(doc, 'getWorkspaceStats').sort()).toEqual(['link', ...Object.keys(VALUE_SQL)].sort());
  });

  it('the fixture has more than one value in every dimension', async () => {
    for (const [dim, sql] of Object.entries(VALUE_SQL)) {
      const n = (await h.pool.query<{ n: number }>(`SELECT count(DISTINCT ${sql})::int AS n FROM clicks`)).rows[0]!.n;
      expect(n, dim).toBeGreaterThan(1);
    }
  });

  for (const dim of Object.keys(VALUE_SQL)) {
    it(`group_by=${dim}: groups and hourly series equal the raw rows, for every link, in one shape with the workspace's`, async () => {
      for (const link of links) {
        const from = start - HOUR;
        const to = end + 2 * HOUR;
        const r = await h.req({ method: 'GET', url: `/v1/links/${link.id}/stats?group_by=${dim}&interval=hour&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&limit=1000` });
        expect(r.statusCode, r.body).toBe(200);
        const body = r.json<{ link_id: string; group_by: string; groups: Row[]; series: ({ start: string } & Row)[]; totals: { clicks: number; visitors: number; scans: number } }>();
        expect(Object.keys(body).sort()).toEqual(STATS_KEYS);
        expect(body).toMatchObject({ link_id: link.id, group_by: dim });
        const where = `link_id = '${link.id}' AND NOT bot AND occurred_at >= '${new Date(from).toISOString()}' AND occurred_at < '${new Date(to).toISOString()}'`;
        const want = (await h.pool.query<Row>(rawSql(VALUE_SQL[dim]!, where))).rows;
        expect(body.groups).toEqual(ranked(want));
        const hourSql = `to_char(date_trunc('hour', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"')`;
        const hours = (await h.pool.query<Row>(rawSql(hourSql, where))).rows;
        const byHour = new Map(hours.map((x) => [x.value, x]));
        const scans = new Map((await h.pool.query<Row>(rawSql(hourSql, `${where} AND qr`))).rows.map((x) => [x.value, x.clicks]));
        expect(body.series.length).toBe((to - from) / HOUR);
        for (const s of body.series) {
          const x = byHour.get(s.start);
          expect(s).toEqual({ start: s.start, clicks: x?.clicks ?? 0, visitors: x?.visitors ?? 0, scans: scans.get(s.start) ?? 0 });
        }
        expect(body.totals.clicks).toBe(want.reduce((a, x) => a + x.clicks, 0));
        expect(body.totals.scans).toBe([...scans.values()].reduce((a, n) => a + n, 0));
      }
    });

    it(`GET /v1/stats?group_by=${dim} sums every link of the workspace, bots included when asked`, async () => {
      const r = await h.req({ method: 'GET', url: `/v1/stats?group_by=${dim}&limit=1000&exclude_bots=false&${range()}` });
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json<{ link_id: null; group_by: string; groups: Row[] }>();
      expect(Object.keys(body).sort()).toEqual(STATS_KEYS);
      expect(body).toMatchObject({ link_id: null, group_by: dim });
      const want = (await h.pool.query<Row>(rawSql(VALUE_SQL[dim]!, 'true'))).rows;
      expect(body.groups).toEqual(ranked(want));
    });
  }

  it('migration 101 fills the dimensions it added from the raw clicks exactly as ingest counts them', async () => {
    const added = ['language', 'rule', 'node', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'];
    const snapshot = async () => {
      const out: Record<string, unknown> = {};
      for (const dim of added) out[dim] = (await h.req({ method: 'GET', url: `/v1/stats?group_by=${dim}&limit=1000&exclude_bots=false&interval=hour&${range().replace(/T[^&]*/g, '')}` })).json();
      return out;
    };
    const before = await snapshot();
    for (const dim of added) expect((before[dim] as { groups: unknown[] }).groups.length, dim).toBeGreaterThan(1);
    await h.pool.query(`DELETE FROM click_rollups WHERE dim = ANY($1)`, [added]);
    // compacted rows and delta rows hold a (link, hour, bot) group's counters as arrays: drop those of the dimensions
    for (const table of ['click_rollup_hours', 'click_rollup_deltas']) {
      await h.pool.query(
        `UPDATE ${table} d SET (dims, vals, clicks, visitors) = (
           SELECT coalesce(array_agg(u.dim ORDER BY u.o), '{}'), coalesce(array_agg(u.value ORDER BY u.o), '{}'),
                  coalesce(array_agg(u.c ORDER BY u.o), '{}'), coalesce(array_agg(u.v ORDER BY u.o), '{}')
             FROM unnest(d.dims, d.vals, d.clicks, d.visitors) WITH ORDINALITY AS u(dim, value, c, v, o) WHERE u.dim <> ALL ($1))`,
        [added],
      );
    }
    // with no rows of a dimension, all its clicks hold its default value (unknown): the totals
    const emptied = (await snapshot()).language as { groups: unknown[]; totals: { clicks: number; visitors: number } };
    expect(emptied.groups).toEqual([{ value: null, clicks: emptied.totals.clicks, visitors: emptied.totals.visitors }]);
    await h.pool.query(readFileSync(new URL('../db/migrations/101_click_rollup_dimensions.sql', import.meta.url), 'utf8'));
    expect(await snapshot()).toEqual(before);
  });

  it('without group_by a link answers the same shape with no groups', async () => {
    const r = await h.req({ method: 'GET', url: `/v1/links/${links[0]!.id}/stats?${range()}` });
    expect(r.statusCode).toBe(200);
    const body = r.json<{ group_by: null; groups: Row[] }>();
    expect(Object.keys(body).sort()).toEqual(STATS_KEYS);
    expect(body).toMatchObject({ link_id: links[0]!.id, group_by: null, groups: [] });
  });

  it('interval=day with bots included equals the raw rows per UTC day (visitors unique per day)', async () => {
    const link = links[1]!;
    const r = await h.req({ method: 'GET', url: `/v1/links/${link.id}/stats?interval=day&exclude_bots=false&${range()}` });
    expect(r.statusCode).toBe(200);
    const body = r.json<{ series: ({ start: string } & Row)[]; group_by: null; exclude_bots: boolean }>();
    expect(body.group_by).toBeNull();
    expect(body.exclude_bots).toBe(false);
    const want = (await h.pool.query<Row>(rawSql(`to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T00:00:00.000Z"')`, `link_id = '${link.id}'`))).rows;
    const distinct = (await h.pool.query<{ value: string; n: number }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T00:00:00.000Z"') AS value, count(DISTINCT visitor_hash)::int AS n FROM clicks WHERE link_id = $1 GROUP BY 1`, [link.id])).rows;
    const got = body.series.filter((s) => s.clicks > 0);
    expect(got.map((s) => ({ value: s.start, clicks: s.clicks, visitors: s.visitors })).sort((a, b) => (a.value < b.value ? -1 : 1)))
      .toEqual(want.sort((a, b) => ((a.value ?? '') < (b.value ?? '') ? -1 : 1)));
    for (const d of distinct) expect(got.find((s) => s.start === d.value)!.visitors).toBe(d.n);
  });

  it('scans per bucket equal the raw QR clicks, per UTC day for a link and per hour for the workspace (domain-limited keys too)', async () => {
    const daySql = `to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T00:00:00.000Z"')`;
    const hourSql = `to_char(date_trunc('hour', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:00:00.000"Z"')`;
    const check = async (url: string, bucketSql: string, where: string, key?: string) => {
      const r = await h.req({ method: 'GET', url, ...(key ? { key } : {}) });
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json<{ series: { start: string; clicks: number; scans: number }[]; totals: { clicks: number; scans: number } }>();
      const want = new Map((await h.pool.query<Row>(rawSql(bucketSql, `${where} AND qr`))).rows.map((x) => [x.value, x.clicks]));
      expect(want.size).toBeGreaterThan(0);
      expect(Object.fromEntries(body.series.filter((s) => s.scans > 0).map((s) => [s.start, s.scans]))).toEqual(Object.fromEntries(want));
      for (const s of body.series) expect(s.scans).toBeLessThanOrEqual(s.clicks);
      expect(body.totals.scans).toBe([...want.values()].reduce((a, n) => a + n, 0));
      expect(body.totals.scans).toBeLessThan(body.totals.clicks);
    };
    const link = links[0]!;
    await check(`/v1/links/${link.id}/stats?interval=day&exclude_bots=false&${range()}`, daySql, `link_id = '${link.id}'`);
    const from = start - HOUR;
    const to = end + 2 * HOUR;
    const hours = `interval=hour&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;
    const inRange = `occurred_at >= '${new Date(from).toISOString()}' AND occurred_at < '${new Date(to).toISOString()}'`;
    await check(`/v1/stats?${hours}`, hourSql, `NOT bot AND ${inRange}`);
    const k = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'analyst scans', role: 'analyst', domains: [domainA] } });
    await check(`/v1/stats?${hours}`, hourSql, `NOT bot AND ${inRange} AND link_id <> '${other.id}'`, k.json<{ secret: string }>().secret);
  });

  it('GET /v1/stats?group_by=link ranks the workspace links by clicks', async () => {
    const r = await h.req({ method: 'GET', url: `/v1/stats?group_by=link&limit=10&${range()}` });
    expect(r.statusCode).toBe(200);
    const body = r.json<{ groups: (Row & { link: { short_url: string; deleted: boolean } })[]; totals: Row }>();
    expect(Object.keys(body).sort()).toEqual(STATS_KEYS);
    const want = (await h.pool.query<Row>(rawSql('link_id', 'NOT bot'))).rows;
    expect(body.groups.map((d) => ({ value: d.value, clicks: d.clicks, visitors: d.visitors }))).toEqual(ranked(want));
    const a = body.groups.find((d) => d.value === links[0]!.id)!;
    expect(a.link).toEqual({ domain: domainA, path: 'plain', short_url: `https://${domainA}/plain`, deleted: false });
    expect(body.totals.clicks).toBe(sent.filter((c) => !c.bot).length);
  });

  it('GET /v1/stats?group_by=country sums every link of the workspace', async () => {
    const r = await h.req({ method: 'GET', url: `/v1/stats?group_by=country&limit=100&${range()}` });
    expect(r.statusCode).toBe(200);
    const want = (await h.pool.query<Row>(rawSql(VALUE_SQL.country!, 'NOT bot'))).rows;
    expect(r.json<{ groups: Row[] }>().groups).toEqual(ranked(want));
  });

  it('a key limited to one domain sees only its links', async () => {
    const k = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'analyst A', role: 'analyst', domains: [domainA] } });
    expect(k.statusCode).toBe(201);
    const key = k.json<{ secret: string }>().secret;
    const top = await h.req({ method: 'GET', url: `/v1/stats?group_by=link&${range()}`, key });
    expect(top.statusCode).toBe(200);
    const ids = top.json<{ groups: { value: string }[] }>().groups.map((d) => d.value);
    expect(ids.sort()).toEqual(links.map((l) => l.id).sort());
    const countries = await h.req({ method: 'GET', url: `/v1/stats?group_by=country&limit=100&${range()}`, key });
    const want = (await h.pool.query<Row>(rawSql(VALUE_SQL.country!, `NOT bot AND link_id <> '${other.id}'`))).rows;
    expect(countries.json<{ groups: Row[] }>().groups).toEqual(ranked(want));
    const hidden = await h.req({ method: 'GET', url: `/v1/links/${other.id}/stats`, key });
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json()).toMatchObject({ error: { code: 'link_not_found' } });
  });

  it('needs analytics:read', async () => {
    const k = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'no analytics', role: 'publisher', scopes: ['links:read'] } });
    const key = k.json<{ secret: string }>().secret;
    for (const url of [`/v1/links/${links[0]!.id}/stats`, '/v1/stats', `/v1/links/${links[0]!.id}/clicks`]) {
      const r = await h.req({ method: 'GET', url, key });
      expect(r.statusCode).toBe(403);
      expect(r.json()).toMatchObject({ error: { code: 'insufficient_scope', details: { required: 'analytics:read' } } });
    }
  });

  const bad: [string, string, number, string, string][] = [
    ['from after to', `/v1/links/{id}/stats?from=2026-01-02&to=2026-01-01`, 400, 'invalid_range', 'from'],
    ['too many hours', `/v1/links/{id}/stats?interval=hour&from=2026-01-01&to=2026-03-01`, 400, 'invalid_range', 'from'],
    ['an unknown group_by', `/v1/links/{id}/stats?group_by=planet`, 400, 'validation_failed', 'group_by'],
    ['a date that is not one', `/v1/links/{id}/stats?from=yesterday`, 400, 'validation_failed', 'from'],
    ['an impossible date', `/v1/links/{id}/stats?from=2026-02-31T99:00`, 400, 'validation_failed', 'from'],
    ['an unknown parameter', `/v1/links/{id}/stats?colour=red`, 400, 'validation_failed', 'colour'],
    ['a limit too large', `/v1/stats?limit=5000`, 400, 'validation_failed', 'limit'],
    ['a forged cursor', `/v1/links/{id}/clicks?cursor=eyJ2IjoxLCJjIjoiMSJ9`, 400, 'invalid_cursor', 'cursor'],
    ['an unknown export format', `/v1/links/{id}/clicks?format=xml`, 400, 'validation_failed', 'format'],
  ];
  for (const [name, url, status, code, field] of bad) {
    it(`${name} → ${status} ${code} naming ${field}`, async () => {
      const r = await h.req({ method: 'GET', url: url.replace('{id}', links[0]!.id) });
      expect(r.statusCode, r.body).toBe(status);
      expect(r.json()).toMatchObject({ error: { code, details: { field } } });
    });
  }

  it('an unknown link → 404 link_not_found', async () => {
    const r = await h.req({ method: 'GET', url: '/v1/links/ln_01JD0000000000000000000000/clicks' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ error: { code: 'link_not_found' } });
  });

  it('pages raw clicks newest first without gaps or repeats', async () => {
    const link = links[0]!;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await h.req({ method: 'GET', url: `/v1/links/${link.id}/clicks?limit=137${cursor ? `&cursor=${cursor}` : ''}` });
      expect(r.statusCode).toBe(200);
      const body = r.json<{ data: { id: string; link_id: string; visitor_hash: string }[]; next_cursor: string | null }>();
      for (const c of body.data) expect(c.link_id).toBe(link.id);
      seen.push(...body.data.map((c) => c.id));
      cursor = body.next_cursor;
    } while (cursor);
    // clk_ ids spell the node's UUIDv7 bytes, so they sort as the UUIDs do
    const want = sent.filter((c) => c.linkId === link.id).map((c) => uuidToId('clk', c.id)).sort().reverse();
    expect(seen).toEqual(want);
  });

  it('returns every field of a click, and filters by time and bots', async () => {
    const c = sent.find((x) => x.linkId === links[2]!.id && !x.bot && x.referrerHost !== null)!;
    const r = await h.req({ method: 'GET', url: `/v1/links/${c.linkId}/clicks?from=${new Date(c.occurredAt).toISOString()}&to=${new Date(c.occurredAt + 1).toISOString()}&exclude_bots=true` });
    expect(r.json()).toEqual({
      data: [{
        id: uuidToId('clk', c.id), occurred_at: new Date(c.occurredAt).toISOString(), link_id: c.linkId, domain: c.domain, path: c.path,
        destination: c.destination, rule_id: c.ruleId, variant_id: c.variantId, country: c.country, device: c.deviceClass,
        os: c.os, browser: c.browser, referrer_host: c.referrerHost, language: c.language, bot: false, qr: c.qr, utm: c.utm,
        node_id: c.nodeId, visitor_hash: c.visitorHash,
      }],
      next_cursor: null,
    });
  });

  it('streams an NDJSON export (Accept: application/x-ndjson), oldest first, equal to the JSON items', async () => {
    const link = links[1]!;
    const r = await h.req({ method: 'GET', url: `/v1/links/${link.id}/clicks`, headers: { accept: 'application/x-ndjson' } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    const lines = r.body.trimEnd().split('\n').map((l) => JSON.parse(l) as { id: string });
    const want = sent.filter((c) => c.linkId === link.id).map((c) => uuidToId('clk', c.id)).sort();
    expect(lines.map((l) => l.id)).toEqual(want);
    const page = await h.req({ method: 'GET', url: `/v1/links/${link.id}/clicks?limit=1` });
    const newest = page.json<{ data: unknown[] }>().data[0];
    expect(lines[lines.length - 1]).toEqual(newest);
  });

  it('streams a CSV export (format=csv) with a header, and defuses spreadsheet formulas', async () => {
    const link = sent[3000]!; // the click with the hostile path
    const r = await h.req({ method: 'GET', url: `/v1/links/${link.linkId}/clicks?format=csv` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(r.headers['content-disposition']).toBe(`attachment; filename="clicks-${link.linkId}.csv"`);
    const lines = r.body.trimEnd().split('\n');
    expect(lines[0]).toBe('id,occurred_at,link_id,domain,path,destination,rule_id,variant_id,country,device,os,browser,referrer_host,language,bot,qr,utm_source,utm_medium,utm_campaign,utm_term,utm_content,node_id,visitor_hash');
    expect(lines.length - 1).toBe(sent.filter((c) => c.linkId === link.linkId).length);
    const row = lines.find((l) => l.startsWith(uuidToId('clk', link.id)))!;
    expect(row).toContain(`,"'=HYPERLINK(""http://evil.example"")",`);
    expect(row).toContain(`,'+cmd,`);
    expect(row.endsWith(`,${link.nodeId},${link.visitorHash}`)).toBe(true);
  });
});
