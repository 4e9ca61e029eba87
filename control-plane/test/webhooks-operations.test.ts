/**
 * Webhooks over time and across control planes: an endpoint failing for WEBHOOK_DISABLE_AFTER is
 * disabled (compressed to 1 s), a success resets the streak, two dispatchers share one endpoint
 * within its concurrency limit, metrics, retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@linkplane/sdk';
import { createLogger } from '../../shared/index.js';
import { waitFor } from '../../shared/testing/index.js';
import { createPool, type Pool } from '../db/pool.js';
import { createMetrics } from '../metrics.js';
import { purgeWebhookHistory } from '../webhooks/retention.js';
import { startWebhookWorkers, type WebhookWorkers } from '../webhooks/index.js';
import { createHarness, type Harness } from './harness.js';
import { deliveriesOf, emit, newWorkspace, startReceiver, type Receiver } from './webhooks-helpers.js';
import { idToUuid } from '../ids.js';

const EP = '/v1/webhooks/endpoints';
const log = createLogger({ name: 'test-webhooks-ops', level: process.env.LP_TEST_LOG ?? 'silent' });

describe('webhook operations', () => {
  let h: Harness;
  let pool2: Pool;
  let a: WebhookWorkers;
  let b: WebhookWorkers;
  const metricsA = createMetrics();
  const metricsB = createMetrics();
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    h = await createHarness('wh_ops', {
      RATE_LIMIT_BURST: '100000',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: Array.from({ length: 40 }, () => '100ms').join(','),
      WEBHOOK_RETRY_JITTER: '0',
      WEBHOOK_TIMEOUT_MS: '1000',
      WEBHOOK_POLL_MS: '20',
      WEBHOOK_DISABLE_AFTER: '1s',
    });
    pool2 = createPool(h.db.url, { max: 4 });
    // two control planes' worth of webhook workers on one database
    a = startWebhookWorkers({ pool: h.pool, config: h.config, log, metrics: metricsA });
    b = startWebhookWorkers({ pool: pool2, config: h.config, log, metrics: metricsB });
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await pool2.end();
    for (const r of receivers) await r.close();
    await h.close();
  });

  async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  }

  async function endpoint(key: string, url: string, extra: Record<string, unknown> = {}) {
    const r = await h.req({ method: 'POST', url: EP, key, payload: { url, ...extra } });
    expect(r.statusCode, r.body).toBe(201);
    return r.json() as { id: string; secret: string };
  }

  it('an endpoint failing everything for WEBHOOK_DISABLE_AFTER is disabled and its queue dead-lettered (with events)', async () => {
    const ws = await newWorkspace(h, 'failing');
    const rx = await receiver((_req, res) => {
      res.writeHead(502);
      res.end();
    });
    const watcher = await receiver();
    const ep = await endpoint(ws.key, rx.url, { events: ['click.*'] });
    const meta = await endpoint(ws.key, watcher.url, { events: ['webhook.*'] });
    const t0 = Date.now();
    await emit(h, ws.workspaceId, 3);
    await waitFor('disabled', async () => (await h.req({ method: 'GET', url: `${EP}/${ep.id}`, key: ws.key })).json().enabled === false, 10_000);
    const e = (await h.req({ method: 'GET', url: `${EP}/${ep.id}`, key: ws.key })).json();
    expect(e).toMatchObject({ enabled: false, disabled_reason: 'failing', failing_since: expect.any(String) });
    expect(Date.parse(e.disabled_at) - Date.parse(e.failing_since)).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const ds = await deliveriesOf(h, ep.id);
    expect(ds.map((d) => d.status)).toEqual(['dead', 'dead', 'dead']);
    await waitFor('3 failure events', () => watcher.requests.length === 3);
    const reasons = await Promise.all(watcher.requests.map(async (r) => ((await verifyWebhook(r.body, r.headers, meta.secret)).data as { reason: string }).reason));
    expect(reasons.sort()).toEqual(['endpoint_disabled', 'endpoint_disabled', 'endpoint_disabled']);
    const sent = rx.requests.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(rx.requests.length).toBe(sent);
  });

  it('a success resets the failing streak: an endpoint failing half the time stays enabled', async () => {
    const ws = await newWorkspace(h, 'flaky');
    const rx = await receiver((_req, res, n) => {
      res.writeHead(n % 2 === 0 ? 200 : 500);
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url, { max_concurrency: 1 });
    for (let i = 0; i < 8; i++) {
      await emit(h, ws.workspaceId, 1);
      await new Promise((r) => setTimeout(r, 200));
    }
    await waitFor('8 delivered', async () => (await deliveriesOf(h, ep.id)).filter((d) => d.status === 'succeeded').length === 8, 10_000);
    const e = (await h.req({ method: 'GET', url: `${EP}/${ep.id}`, key: ws.key })).json();
    expect(e).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
  });

  it('a disabled endpoint holds its waiting deliveries and gets no new ones; enabling it sends them', async () => {
    const ws = await newWorkspace(h, 'hold');
    let healthy = false;
    const rx = await receiver((_req, res) => {
      res.writeHead(healthy ? 200 : 500);
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url);
    const ids = await emit(h, ws.workspaceId, 2);
    await waitFor('both tried and waiting for a retry', async () => (await deliveriesOf(h, ep.id)).filter((d) => d.status === 'failed').length === 2);
    expect((await h.req({ method: 'PATCH', url: `${EP}/${ep.id}`, key: ws.key, payload: { enabled: false } })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 150)); // attempts already in flight finish
    const held = rx.requests.length;
    await emit(h, ws.workspaceId, 1); // not for a disabled endpoint
    await new Promise((r) => setTimeout(r, 500)); // the 100 ms schedule would have retried several times
    expect(rx.requests.length).toBe(held);
    const waiting = await deliveriesOf(h, ep.id);
    expect(waiting.map((d) => d.status)).toEqual(['failed', 'failed']);
    healthy = true;
    expect((await h.req({ method: 'PATCH', url: `${EP}/${ep.id}`, key: ws.key, payload: { enabled: true } })).statusCode).toBe(200);
    await waitFor('both sent', async () => (await deliveriesOf(h, ep.id)).every((d) => d.status === 'succeeded'));
    const delivered = rx.requests.filter((r) => r.at > 0).slice(held).map((r) => String(r.headers['event-id']));
    expect(new Set(delivered)).toEqual(new Set(ids));
    expect(await deliveriesOf(h, ep.id)).toHaveLength(2);
  });

  it('two dispatchers share an endpoint without exceeding its concurrency, each event delivered once', async () => {
    const ws = await newWorkspace(h, 'shared');
    let inFlight = 0;
    let peak = 0;
    const rx = await receiver(async (_req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 40));
      inFlight--;
      res.writeHead(200);
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url, { max_concurrency: 2 });
    const ids = await emit(h, ws.workspaceId, 40);
    await waitFor('40 delivered', async () => (await deliveriesOf(h, ep.id)).filter((d) => d.status === 'succeeded').length === 40, 20_000);
    expect(peak).toBe(2);
    expect(rx.requests).toHaveLength(40);
    expect(new Set(rx.requests.map((r) => String(r.headers['event-id'])))).toEqual(new Set(ids));
  });

  it('exposes metrics: attempts by result, deliveries by status, queue depth', async () => {
    const text = (await metricsA.registry.metrics()) + (await metricsB.registry.metrics());
    const sum = (re: RegExp) => [...text.matchAll(re)].reduce((s, m) => s + Number(m[1]), 0);
    expect(sum(/^linkplane_webhook_attempts_total\{result="ok"\} (\d+)$/gm)).toBeGreaterThanOrEqual(50);
    expect(sum(/^linkplane_webhook_attempts_total\{result="http_status"\} (\d+)$/gm)).toBeGreaterThan(5);
    expect(sum(/^linkplane_webhook_endpoints_disabled_total\{reason="failing"\} (\d+)$/gm)).toBe(1);
    expect(text).toMatch(/^linkplane_webhook_queue_depth\{status="dead"\} 3$/m);
    expect(text).toMatch(/^linkplane_webhook_attempt_duration_seconds_count \d+$/m);
  });

  it('retention purges old dispatched events with their finished deliveries, keeps waiting ones', async () => {
    const ws = await newWorkspace(h, 'retention');
    // the stored UUIDs behind the evt_ ids
    const [oldDone, oldWaiting, recent] = (await emit(h, ws.workspaceId, 3, 'job.failed')).map((id) => idToUuid('evt', id)!);
    await h.pool.query(`UPDATE events SET dispatched_at = now() WHERE id = ANY($1::uuid[])`, [[oldDone, oldWaiting, recent]]);
    await h.pool.query(`UPDATE events SET created_at = now() - interval '40 days' WHERE id = ANY($1::uuid[])`, [[oldDone, oldWaiting]]);
    const { rows: eps } = await h.pool.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (id, workspace_id, url, event_types, enabled) VALUES ('whe_01RETENTION0000000000000000', $1, 'https://x.example.com/', '{*}', false) RETURNING id`,
      [ws.workspaceId],
    );
    const ep = eps[0]!.id;
    await h.pool.query(
      `INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type, status) VALUES
       ('whd_01RETENTION000000000000001', $1, $2, $3, 'job.failed', 'succeeded'), ('whd_01RETENTION000000000000002', $1, $2, $4, 'job.failed', 'failed')`,
      [ws.workspaceId, ep, oldDone, oldWaiting],
    );
    await h.pool.query(`INSERT INTO webhook_attempts (delivery_id, attempt) VALUES ('whd_01RETENTION000000000000001', 1)`);
    expect(await purgeWebhookHistory(h.pool, 30)).toBeGreaterThanOrEqual(1);
    const left = await h.pool.query<{ id: string }>(`SELECT id::text FROM events WHERE id = ANY($1::uuid[]) ORDER BY id`, [[oldDone, oldWaiting, recent]]);
    expect(left.rows.map((r) => r.id).sort()).toEqual([oldWaiting, recent].sort());
    expect((await h.pool.query(`SELECT id FROM webhook_deliveries WHERE endpoint_id = $1`, [ep])).rows).toEqual([{ id: 'whd_01RETENTION000000000000002' }]);
    expect((await h.pool.query(`SELECT 1 FROM webhook_attempts WHERE delivery_id = 'whd_01RETENTION000000000000001'`)).rowCount).toBe(0);
  });
});
