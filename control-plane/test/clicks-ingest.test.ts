/**
 * Click ingest against the real NATS and Postgres: every click stored once with its dimensions,
 * rollups equal to counts from the raw rows, duplicates (JetStream dedupe window and after it)
 * never counted twice, garbage kept as dead letters without blocking the stream, webhook events
 * only for subscribed workspaces, clicks outside the retention window dropped and counted.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, encodeClickBatch, ensureClicksStream, natsNames, newClickId, type ClickEvent } from '../../shared/index.js';
import { waitFor } from '../../shared/testing/index.js';
import { createClickPipeline, ROLLUP_DIMENSIONS, type ClickIngest, type RollupCompactor } from '../ingest/index.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { clickCount, makeClicks, publishClicks, publishRaw, type FixtureLink } from './click-fixtures.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { EXPECTED_ROLLUPS, rollupsAgree } from './rollup-oracle.js';
import { uuidToId } from '../ids.js';

const HOUR = 3_600_000;

async function rollupDiff(h: Harness): Promise<{ missing: unknown[]; extra: unknown[] }> {
  const q = (sql: string) => h.pool.query(sql).then((r) => r.rows.map((x) => JSON.stringify(x)));
  const want = await q(`SELECT * FROM (${EXPECTED_ROLLUPS}) e ORDER BY 1, 2, 3, 4, 5`);
  const got = await q(`SELECT link_id, dim, hour, value, bot, sum(clicks)::int AS clicks, sum(visitors)::int AS visitors
    FROM click_rollups_live GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`);
  const g = new Set(got);
  const w = new Set(want);
  return { missing: want.filter((x) => !g.has(x)).slice(0, 5), extra: got.filter((x) => !w.has(x)).slice(0, 5) };
}

describe('click ingest', () => {
  let h: Harness;
  let ingest: ClickIngest;
  let compactor: RollupCompactor;
  let metrics: Metrics;
  let links: FixtureLink[];
  let workspaceId: string;
  const start = Date.now() - 3 * HOUR;

  beforeAll(async () => {
    // one transaction at a time: "a visitor counts at its first stored click" is then the first by id
    h = await createHarness('clkingest', {
      CLICK_EVENTS_SUBSCRIBERS_TTL_MS: '0', CLICK_DEDUPE_WINDOW_SECONDS: '2', CLICK_INGEST_BATCH: '5000', CLICK_INGEST_CONCURRENCY: '1',
    });
    const domain = await createDomain(h);
    links = [];
    for (const path of ['plain', 'ab-test', 'with-utm', 'other']) {
      const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path, destination_url: `https://example.org/${path}` } });
      expect(r.statusCode).toBe(201);
      links.push({ id: r.json<{ id: string }>().id, workspaceId: '', domain, path });
    }
    workspaceId = (await h.pool.query<{ workspace_id: string }>('SELECT workspace_id FROM links LIMIT 1')).rows[0]!.workspace_id;
    for (const l of links) l.workspaceId = workspaceId;
    const { nc } = await h.nats();
    await ensureClicksStream(await jetstreamManager(nc), h.prefix, { duplicateWindowMs: 2000 }, 'own');
    metrics = createMetrics();
    const log = createLogger({ name: 'test-clicks', level: process.env.LP_TEST_LOG ?? 'silent' });
    ({ ingest, compactor } = createClickPipeline({ pool: h.pool, nats: async () => nc, config: h.config, log, metrics }));
    ingest.start();
  });

  afterAll(async () => {
    await ingest?.stop();
    await compactor?.stop();
    await h?.close();
  });

  const counter = async (result: string) =>
    (await metrics.registry.getSingleMetric('linkplane_clicks_ingested_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

  let sent: ClickEvent[] = [];

  it('stores 20 000 clicks exactly once, each with its link and dimensions', async () => {
    const { nc } = await h.nats();
    sent = makeClicks(20_000, links, { start, spacingMs: 500, seed: 42 });
    await publishClicks(nc, h.prefix, sent, { perBatch: 1000 });
    await waitFor('20 000 clicks', async () => (await clickCount(h.pool)) === 20_000, 60_000, 100);

    const { rows } = await h.pool.query<Record<string, unknown>>(
      `SELECT id, (extract(epoch from occurred_at) * 1000)::bigint::text AS at, workspace_id, link_id, domain, path, destination, rule_id, variant_id,
              country, device, os, browser, referrer_host, language, bot, qr, utm, node_id, encode(visitor_hash, 'hex') AS vh FROM clicks`,
    );
    const byId = new Map(rows.map((r) => [r.id as string, r]));
    expect(byId.size).toBe(20_000);
    for (const c of sent) {
      expect(byId.get(c.id)).toEqual({
        id: c.id, at: String(c.occurredAt), workspace_id: c.workspaceId, link_id: c.linkId, domain: c.domain, path: c.path,
        destination: c.destination, rule_id: c.ruleId, variant_id: c.variantId, country: c.country, device: c.deviceClass,
        os: c.os, browser: c.browser, referrer_host: c.referrerHost, language: c.language, bot: c.bot, qr: c.qr, utm: c.utm,
        node_id: c.nodeId, vh: c.visitorHash,
      });
    }
    expect(await counter('inserted')).toBe(20_000);
  });

  it('keeps hourly rollups equal to counts from the raw rows, for every dimension, before and after compaction', async () => {
    expect(await rollupDiff(h)).toEqual({ missing: [], extra: [] });
    expect(Number((await h.pool.query('SELECT count(*) AS n FROM click_rollup_deltas')).rows[0].n)).toBeGreaterThan(0);
    await compactor.drain();
    expect(Number((await h.pool.query('SELECT count(*) AS n FROM click_rollup_deltas')).rows[0].n)).toBe(0);
    expect(await rollupDiff(h)).toEqual({ missing: [], extra: [] });
    // every dimension with a value other than its default is rolled up (this fixture sets no UTM medium, term or content)
    // compacted as one row per (link, hour, bot) with every dimension's counters (migration 106)
    expect(Number((await h.pool.query('SELECT count(*) AS n FROM click_rollups')).rows[0].n)).toBe(0);
    const keys = await h.pool.query<{ rows: number; keys: number }>(
      `SELECT (SELECT count(*) FROM click_rollup_hours)::int AS rows,
              (SELECT count(*) FROM (SELECT DISTINCT link_id, hour, bot FROM click_rollups_live) k)::int AS keys`);
    expect(keys.rows[0]!.rows).toBe(keys.rows[0]!.keys);
    const stored = 'SELECT h.link_id, u.dim, u.value FROM click_rollup_hours h, unnest(h.dims, h.vals) AS u(dim, value)';
    const dims = await h.pool.query<{ dim: string }>(`SELECT DISTINCT dim FROM (${stored}) s ORDER BY 1`);
    const unset = ['utm_medium', 'utm_term', 'utm_content'];
    expect(dims.rows.map((r) => r.dim)).toEqual(['', ...ROLLUP_DIMENSIONS.filter((d) => !unset.includes(d))].sort());
    expect(Number((await h.pool.query(`SELECT count(*) AS n FROM (${stored}) s WHERE dim <> '' AND (value = '' OR (dim = 'source' AND value = 'click'))`)).rows[0].n)).toBe(0);
    compactor.start(); // from here on, compaction runs alongside ingest
  });

  it('keeps one visitor key per (link, day, visitor), the key SQL computes as linkplane_visitor_key', async () => {
    const { rows } = await h.pool.query<{ raw: number; kept: number; matched: number }>(`
      WITH r AS (SELECT DISTINCT link_id, (occurred_at AT TIME ZONE 'UTC')::date AS day, visitor_hash FROM clicks)
      SELECT (SELECT count(*) FROM r)::int AS raw, (SELECT count(*) FROM click_visitors)::int AS kept,
             (SELECT count(*) FROM r JOIN click_visitors v ON v.visitor_key = linkplane_visitor_key(r.link_id, r.visitor_hash) AND v.day = r.day)::int AS matched`);
    expect(rows[0]!.raw).toBeGreaterThan(1000);
    expect(rows[0]).toEqual({ raw: rows[0]!.raw, kept: rows[0]!.raw, matched: rows[0]!.raw });
  });

  it('a batch re-sent inside the dedupe window is stored once by JetStream', async () => {
    const { nc } = await h.nats();
    const jsm = await jetstreamManager(nc);
    const names = natsNames(h.prefix);
    const before = (await jsm.streams.info(names.clicksStream)).state.last_seq;
    const fresh = makeClicks(100, links, { start: start + 20_000 * 500, spacingMs: 3, seed: 5 });
    await publishClicks(nc, h.prefix, fresh, { batchIdPrefix: 'twice' });
    await publishClicks(nc, h.prefix, fresh, { batchIdPrefix: 'twice' });
    expect((await jsm.streams.info(names.clicksStream)).state.last_seq).toBe(before + 1);
    sent = [...sent, ...fresh];
    await waitFor('the batch', async () => (await clickCount(h.pool)) === sent.length, 30_000, 100);
    expect(await counter('duplicate')).toBe(0);
  });

  it('a batch re-sent after the dedupe window is stored by JetStream again, but every click only once', async () => {
    const { nc } = await h.nats();
    await new Promise((r) => setTimeout(r, 2_500)); // past CLICK_DEDUPE_WINDOW_SECONDS=2
    const names = natsNames(h.prefix);
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(names.clicksStream)).state.last_seq;
    const dupBefore = await counter('duplicate');
    // batches 0 and 1 again (same ids), plus one batch half old, half new
    await publishClicks(nc, h.prefix, sent.slice(0, 2000), { perBatch: 1000 });
    const fresh = makeClicks(500, links, { start: start + 20_000 * 500 + 1_000, spacingMs: 3, seed: 7 });
    await publishClicks(nc, h.prefix, [...sent.slice(5000, 5500), ...fresh], { perBatch: 1000, batchIdPrefix: 'mixed' });
    expect((await jsm.streams.info(names.clicksStream)).state.last_seq).toBe(before + 3);
    await waitFor('duplicates skipped', async () => (await counter('duplicate')) - dupBefore === 2500, 30_000, 100);
    sent = [...sent, ...fresh];
    expect(await clickCount(h.pool)).toBe(sent.length);
    expect(await rollupDiff(h)).toEqual({ missing: [], extra: [] });
  });

  it('keeps an undecodable message as a dead letter, acks it, and goes on with the stream', async () => {
    const { nc } = await h.nats();
    await publishRaw(nc, h.prefix, Buffer.from('definitely not msgpack {'), 'garbage-1');
    const after = makeClicks(100, links, { start: start + 20_000 * 500 + 5_000, spacingMs: 3, seed: 9 });
    await publishClicks(nc, h.prefix, after, { batchIdPrefix: 'after-garbage' });
    sent = [...sent, ...after];
    await waitFor('clicks behind the garbage', async () => (await clickCount(h.pool)) === sent.length, 30_000, 100);
    const dl = await h.pool.query<{ msg_id: string; error: string; payload: Buffer }>('SELECT msg_id, error, payload FROM click_dead_letters');
    expect(dl.rows).toEqual([{ msg_id: 'garbage-1', error: expect.stringMatching(/msgpack/), payload: Buffer.from('definitely not msgpack {') }]);
    const info = await (await jetstreamManager(nc)).consumers.info(natsNames(h.prefix).clicksStream, natsNames(h.prefix).clicksIngestConsumer);
    expect(info.num_ack_pending).toBe(0);
  });

  it('stores the valid clicks of a partly invalid batch and keeps the batch as a dead letter', async () => {
    const { nc } = await h.nats();
    const t = start + 20_000 * 500 + 10_000;
    const batch = makeClicks(3, links, { start: t, seed: 11 });
    batch[1] = { ...batch[1]!, country: 'xx' }; // lower case: not ISO
    const future = Date.now() + 30 * 86_400_000; // beyond the partitions ahead
    const far = { ...batch[2]!, occurredAt: future, id: newClickId(future) };
    await publishRaw(nc, h.prefix, encodeClickBatch({ v: 1, nodeId: 'node-t', batchId: 'partly-bad', events: [batch[0]!, batch[1]!, far] }), 'partly-bad');
    sent = [...sent, batch[0]!];
    await waitFor('the valid click', async () => (await clickCount(h.pool)) === sent.length, 30_000, 100);
    const dl = await h.pool.query<{ error: string }>(`SELECT error FROM click_dead_letters WHERE msg_id = 'partly-bad'`);
    expect(dl.rows[0]!.error).toContain(`event 1 (${batch[1]!.id}): country is not ISO 3166-1 alpha-2`);
    expect(dl.rows[0]!.error).toContain(`event ${far.id}: occurred_at ${new Date(future).toISOString()} is too far in the future`);
    expect(await counter('rejected')).toBe(2);
  });

  it('recreates a day partition that disappeared after ingest had seen it', async () => {
    const { nc } = await h.nats();
    const day = Math.floor(Date.now() / 86_400_000) + 3;
    const first = makeClicks(5, links, { start: day * 86_400_000 + 1_000, seed: 15 });
    await publishClicks(nc, h.prefix, first, { batchIdPrefix: 'future-a' });
    sent = [...sent, ...first];
    await waitFor('future clicks', async () => (await clickCount(h.pool)) === sent.length, 30_000, 100);
    const suffix = new Date(day * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    await h.pool.query(`DELETE FROM clicks WHERE occurred_at >= $1`, [new Date(day * 86_400_000)]);
    await h.pool.query(`DELETE FROM click_rollup_deltas WHERE hour >= $1`, [new Date(day * 86_400_000)]);
    await h.pool.query(`DELETE FROM click_rollup_hours WHERE hour >= $1`, [new Date(day * 86_400_000)]);
    await h.pool.query(`DROP TABLE clicks_p${suffix}, click_visitors_p${suffix}`);
    sent = sent.filter((c) => !first.includes(c));
    const again = makeClicks(5, links, { start: day * 86_400_000 + 2_000, seed: 16 });
    await publishClicks(nc, h.prefix, again, { batchIdPrefix: 'future-b' });
    sent = [...sent, ...again];
    await waitFor('clicks after the partition came back', async () => (await clickCount(h.pool)) === sent.length, 30_000, 100);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM click_dead_letters WHERE msg_id LIKE $1', ['future-b%'])).rows[0].n).toBe(0);
  });

  it('drops clicks older than the retention window, counted', async () => {
    const { nc } = await h.nats();
    const old = makeClicks(10, links, { start: Date.now() - 200 * 86_400_000, seed: 12 });
    await publishClicks(nc, h.prefix, old, { batchIdPrefix: 'old' });
    await waitFor('expired counted', async () => (await counter('expired')) === 10, 30_000, 100);
    expect(await clickCount(h.pool)).toBe(sent.length);
  });

  it('writes webhook events in the ingest transaction, only for subscribed workspaces and types', async () => {
    const { nc } = await h.nats();
    await h.pool.query(`INSERT INTO webhook_endpoints (id, workspace_id, url, event_types) VALUES
      ('whe_01JD0000000000000000000001', $1, 'https://hooks.example.com/a', ARRAY['click.*', 'rule.variant_chosen'])`, [workspaceId]);
    // another workspace with no endpoint: its clicks emit nothing
    const other: FixtureLink = { id: 'ln_01JD00000000000000000000ZZ', workspaceId: 'ws_other', domain: 'o.example.com', path: 'x' };
    const t = start + 20_000 * 500 + 20_000;
    const mine = makeClicks(300, links, { start: t, spacingMs: 2, seed: 13 });
    const theirs = makeClicks(50, [other], { start: t + 1_000, seed: 14 });
    await publishClicks(nc, h.prefix, [...mine, ...theirs], { perBatch: 1000, batchIdPrefix: 'hooks' });
    await waitFor('hook clicks', async () => (await clickCount(h.pool)) === sent.length + 350, 30_000, 100);
    const { rows } = await h.pool.query<{ type: string; workspace_id: string; n: number }>(
      `SELECT type, workspace_id, count(*)::int AS n FROM events WHERE type IN ('click.created', 'qr.scan.created', 'rule.variant_chosen') GROUP BY 1, 2 ORDER BY 1`,
    );
    const human = mine.filter((c) => !c.bot);
    expect(rows).toEqual([
      { type: 'click.created', workspace_id: workspaceId, n: human.filter((c) => !c.qr).length },
      { type: 'rule.variant_chosen', workspace_id: workspaceId, n: human.filter((c) => c.variantId !== null || c.ruleId !== null).length },
    ]);
    const c = human.find((x) => !x.qr)!;
    const ev = await h.pool.query<{ data: Record<string, unknown>; occurred_at: Date }>(
      `SELECT data, occurred_at FROM events WHERE type = 'click.created' AND data->>'id' = $1`, [uuidToId('clk', c.id)],
    );
    expect(ev.rows[0]!.occurred_at.getTime()).toBe(c.occurredAt);
    expect(ev.rows[0]!.data).toEqual({
      id: uuidToId('clk', c.id), occurred_at: new Date(c.occurredAt).toISOString(), link_id: c.linkId, domain: c.domain, path: c.path,
      short_url: `https://${c.domain}/${c.path}`, destination: c.destination, rule_id: c.ruleId, variant_id: c.variantId,
      country: c.country, device: c.deviceClass, os: c.os, browser: c.browser, referrer_host: c.referrerHost,
      language: c.language, qr: false, utm: c.utm, visitor_hash: c.visitorHash, node_id: c.nodeId,
    });
    await h.pool.query(
      `DELETE FROM click_visitors WHERE (visitor_key, day) IN (
         SELECT linkplane_visitor_key(link_id, visitor_hash), (occurred_at AT TIME ZONE 'UTC')::date FROM clicks WHERE workspace_id = 'ws_other')`,
    );
    await h.pool.query(`DELETE FROM clicks WHERE workspace_id = 'ws_other'`);
    await compactor.drain();
    await h.pool.query(`DELETE FROM click_rollup_hours WHERE workspace_id = 'ws_other'`);
    sent = [...sent, ...mine];
  });

  it('still agrees with the raw rows after all of that', async () => {
    expect(await clickCount(h.pool)).toBe(sent.length);
    expect(await rollupDiff(h)).toEqual({ missing: [], extra: [] });
  });

  it('with 4 transactions in flight, clicks stay exact and each day counts each visitor once in every dimension', async () => {
    await ingest.stop();
    const { nc } = await h.nats();
    const log = createLogger({ name: 'test-clicks-par', level: process.env.LP_TEST_LOG ?? 'silent' });
    const par = createClickPipeline({
      pool: h.pool, nats: async () => nc, config: { ...h.config, CLICK_INGEST_CONCURRENCY: 4, CLICK_INGEST_BATCH: 700 }, log, metrics: createMetrics(),
    });
    par.ingest.start();
    try {
      const more = makeClicks(12_000, links, { start: start + 21_000 * 500, spacingMs: 30, visitors: 500, seed: 21 });
      await publishClicks(nc, h.prefix, more, { perBatch: 250, batchIdPrefix: 'par' });
      sent = [...sent, ...more];
      await waitFor('parallel clicks', async () => (await clickCount(h.pool)) === sent.length, 60_000, 100);
    } finally {
      await par.ingest.stop();
    }
    await rollupsAgree(h.pool);
  });
});
