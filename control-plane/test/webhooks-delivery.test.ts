/**
 * Deliveries to real receivers on loopback, through the real fan-out, queue and dispatcher
 * (compressed retry schedule). Each test has its own workspace and receiver.
 */
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@linkplane/sdk';
import { createLogger } from '../../shared/index.js';
import { waitFor } from '../../shared/testing/index.js';
import { startWebhookWorkers, type WebhookWorkers } from '../webhooks/index.js';
import { createHarness, type Harness } from './harness.js';
import { attemptsOf, deliveriesOf, emit, newWorkspace, ok, startReceiver, type Receiver, type ReceivedRequest } from './webhooks-helpers.js';

const SCHEDULE = [100, 150, 200, 250, 300, 300, 300];
const EP = '/v1/webhooks/endpoints';
const log = createLogger({ name: 'test-webhooks', level: process.env.LP_TEST_LOG ?? 'silent' });

interface Created {
  id: string;
  secret: string;
  secret_key_id: string;
}

describe('webhook delivery to real receivers', () => {
  let h: Harness;
  let workers: WebhookWorkers;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    h = await createHarness('wh_delivery', {
      RATE_LIMIT_BURST: '100000',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: SCHEDULE.map((ms) => `${ms}ms`).join(','),
      WEBHOOK_RETRY_JITTER: '0',
      WEBHOOK_TIMEOUT_MS: '800',
      WEBHOOK_POLL_MS: '20',
    });
    workers = startWebhookWorkers({ pool: h.pool, config: h.config, log });
  });
  afterAll(async () => {
    await workers.stop();
    for (const r of receivers) await r.close();
    await h.close();
  });

  async function receiver(handler = ok): Promise<Receiver> {
    const r = await startReceiver(handler);
    receivers.push(r);
    return r;
  }

  async function endpoint(key: string, url: string, extra: Record<string, unknown> = {}): Promise<Created> {
    const r = await h.req({ method: 'POST', url: EP, key, payload: { url, ...extra } });
    expect(r.statusCode, r.body).toBe(201);
    return r.json();
  }

  const header = (r: ReceivedRequest, name: string): string => String(r.headers[name]);

  it('delivers on the first try, signed over the exact bytes (independent HMAC, standardwebhooks, our verifier)', async () => {
    const ws = await newWorkspace(h, 'first');
    const rx = await receiver();
    const ep = await endpoint(ws.key, rx.url, { events: ['click.created'] });
    const [eventId] = await emit(h, ws.workspaceId, 1, 'click.created', () => ({ link_id: 'ln_X', country: 'SG', note: 'ünïcode ✓' }));
    await waitFor('delivery', () => rx.requests.length === 1);
    await waitFor('recorded', async () => (await deliveriesOf(h, ep.id))[0]?.status === 'succeeded');
    const req = rx.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hook');
    expect(header(req, 'content-type')).toBe('application/json');
    expect(header(req, 'event-id')).toBe(eventId);
    expect(header(req, 'event-type')).toBe('click.created');
    expect(header(req, 'event-attempt')).toBe('1');
    expect(Math.abs(Date.parse(header(req, 'sent-at')) - req.at)).toBeLessThan(5000);
    const raw = req.body.toString('utf8');
    const env = JSON.parse(raw);
    expect(env).toEqual({ id: eventId, type: 'click.created', occurred_at: expect.any(String), data: { link_id: 'ln_X', country: 'SG', note: 'ünïcode ✓' }, attempt: 1 });
    expect(Object.keys(env)).toEqual(['id', 'type', 'occurred_at', 'data', 'attempt']);

    // X-Signature exactly: t=<unix>,k=<key id>,h=sha256,s=hex(hmac_sha256(secret, t + "." + raw_body))
    const m = /^t=(\d+),k=([^,]+),h=sha256,s=([0-9a-f]{64})$/.exec(header(req, 'x-signature'));
    expect(m).not.toBeNull();
    const [, t, k, s] = m!;
    expect(k).toBe(ep.secret_key_id);
    expect(Math.abs(Number(t) - Math.floor(req.at / 1000))).toBeLessThanOrEqual(2);
    expect(createHmac('sha256', ep.secret).update(Buffer.concat([Buffer.from(`${t}.`), req.body])).digest('hex')).toBe(s);
    // Standard Webhooks, by the off-the-shelf package
    expect(header(req, 'webhook-id')).toBe(eventId);
    expect(header(req, 'webhook-timestamp')).toBe(t);
    expect(new Webhook(ep.secret).verify(raw, req.headers as Record<string, string>)).toEqual(env);
    expect(await verifyWebhook(req.body, req.headers, [{ id: ep.secret_key_id, secret: ep.secret }])).toEqual(env);

    const [d] = await deliveriesOf(h, ep.id);
    expect(d).toMatchObject({ event_id: eventId, status: 'succeeded', attempts: 1, last_status_code: 200, last_error: null });
    expect(header(req, 'delivery-id')).toBe(d!.id);
    const api = (await h.req({ method: 'GET', url: `/v1/webhooks/deliveries?endpoint_id=${ep.id}`, key: ws.key })).json();
    expect(api.data[0]).toMatchObject({ status: 'succeeded', attempt_count: 1, next_attempt_at: null, delivered_at: expect.any(String) });
    expect(api.data[0].attempts).toEqual([
      { attempt: 1, started_at: expect.any(String), finished_at: expect.any(String), duration_ms: expect.any(Number), status_code: 200, error: null, error_detail: null, response_body: 'ok' },
    ]);
  });

  it('fails twice then succeeds: attempts 1..3 recorded, same event id, fresh timestamps, schedule respected', async () => {
    const ws = await newWorkspace(h, 'twice');
    const rx = await receiver((_req, res, n) => {
      res.writeHead(n <= 2 ? 500 : 200);
      res.end(n <= 2 ? `boom ${n}` : 'fine');
    });
    const ep = await endpoint(ws.key, rx.url);
    const [eventId] = await emit(h, ws.workspaceId, 1, 'job.succeeded');
    await waitFor('3 requests', () => rx.requests.length === 3);
    await waitFor('recorded', async () => (await deliveriesOf(h, ep.id))[0]?.status === 'succeeded');
    expect(rx.requests.map((r) => header(r, 'event-id'))).toEqual([eventId, eventId, eventId]);
    expect(rx.requests.map((r) => header(r, 'event-attempt'))).toEqual(['1', '2', '3']);
    expect(rx.requests.map((r) => JSON.parse(r.body.toString()).attempt)).toEqual([1, 2, 3]);
    for (const r of rx.requests) expect((await verifyWebhook(r.body, r.headers, ep.secret)).id).toBe(eventId);
    const ts = rx.requests.map((r) => Number(header(r, 'webhook-timestamp')));
    expect(ts[2]).toBeGreaterThanOrEqual(ts[0]!);
    expect(rx.requests[1]!.at - rx.requests[0]!.at).toBeGreaterThanOrEqual(SCHEDULE[0]! - 5);
    expect(rx.requests[2]!.at - rx.requests[1]!.at).toBeGreaterThanOrEqual(SCHEDULE[1]! - 5);
    const [d] = await deliveriesOf(h, ep.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 3, last_status_code: 200 });
    expect((await attemptsOf(h, d!.id)).map((a) => [a.attempt, a.status_code, a.error, a.finished])).toEqual([
      [1, 500, 'http_status', true], [2, 500, 'http_status', true], [3, 200, null, true],
    ]);
    const api = (await h.req({ method: 'GET', url: `/v1/webhooks/deliveries/${d!.id}`, key: ws.key })).json();
    expect(api.attempts.map((a: { response_body: string }) => a.response_body)).toEqual(['boom 1', 'boom 2', 'fine']);
  });

  it('always fails → dead-lettered after the schedule, and webhook.delivery.failed is delivered', async () => {
    const ws = await newWorkspace(h, 'dead');
    const bad = await receiver((_req, res) => {
      res.writeHead(500);
      res.end('nope');
    });
    const watcher = await receiver();
    const ep = await endpoint(ws.key, bad.url, { events: ['link.*'] });
    const meta = await endpoint(ws.key, watcher.url, { events: ['webhook.delivery.failed'] });
    const [eventId] = await emit(h, ws.workspaceId, 1, 'link.updated', () => ({ id: 'ln_1' }));
    await waitFor('failure event', () => watcher.requests.length === 1, 15_000);
    expect(bad.requests).toHaveLength(SCHEDULE.length + 1);
    const [d] = await deliveriesOf(h, ep.id);
    expect(d).toMatchObject({ event_id: eventId, status: 'dead', attempts: SCHEDULE.length + 1, last_status_code: 500, last_error: 'http_status' });
    const failed = await verifyWebhook(watcher.requests[0]!.body, watcher.requests[0]!.headers, meta.secret);
    expect(failed.type).toBe('webhook.delivery.failed');
    expect(failed.data).toEqual({
      delivery_id: d!.id, endpoint_id: ep.id, endpoint_url: bad.url, event_id: eventId, event_type: 'link.updated',
      attempts: SCHEDULE.length + 1, last_status_code: 500, last_error: 'http_status', reason: 'retries_exhausted',
    });
    const dlq = (await h.req({ method: 'GET', url: '/v1/webhooks/deliveries?status=dead', key: ws.key })).json();
    expect(dlq.data.map((x: { id: string }) => x.id)).toEqual([d!.id]);
    expect(dlq.data[0].dead_at).toEqual(expect.any(String));

    // replay from the DLQ once the receiver is fixed: same event id, attempt count continues
    bad.setHandler(ok);
    const r = await h.req({ method: 'POST', url: `/v1/webhooks/deliveries/${d!.id}/replay`, key: ws.key });
    expect(r.statusCode).toBe(202);
    await waitFor('replayed', () => bad.requests.length === SCHEDULE.length + 2);
    const last = bad.requests[bad.requests.length - 1]!;
    expect(header(last, 'event-id')).toBe(eventId);
    expect(header(last, 'event-attempt')).toBe(String(SCHEDULE.length + 2));
    await waitFor('succeeded', async () => (await deliveriesOf(h, ep.id))[0]?.status === 'succeeded');
  });

  it('410 Gone disables the endpoint; its waiting deliveries are dead-lettered; new events skip it', async () => {
    const ws = await newWorkspace(h, 'gone');
    let first = true;
    const rx = await receiver(async (_req, res) => {
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 150)); // let the second delivery queue up behind the first
      }
      res.writeHead(410);
      res.end('gone');
    });
    const ep = await endpoint(ws.key, rx.url, { max_concurrency: 1 });
    await emit(h, ws.workspaceId, 2, 'click.created');
    await waitFor('disabled', async () => (await h.req({ method: 'GET', url: `${EP}/${ep.id}`, key: ws.key })).json().enabled === false);
    const e = (await h.req({ method: 'GET', url: `${EP}/${ep.id}`, key: ws.key })).json();
    expect(e).toMatchObject({ enabled: false, disabled_reason: 'gone', disabled_at: expect.any(String) });
    const ds = await deliveriesOf(h, ep.id);
    expect(ds.map((d) => d.status)).toEqual(['dead', 'dead']);
    expect(ds.map((d) => d.last_error).sort()).toEqual(['endpoint_disabled', 'endpoint_gone']);
    expect(rx.requests).toHaveLength(1);
    await emit(h, ws.workspaceId, 1, 'click.created');
    await new Promise((r) => setTimeout(r, 300));
    expect(await deliveriesOf(h, ep.id)).toHaveLength(2);
    expect(rx.requests).toHaveLength(1);
  });

  it('a slow receiver times out (recorded), and the retry goes through', async () => {
    const ws = await newWorkspace(h, 'slow');
    const rx = await receiver(async (_req, res, n) => {
      if (n === 1) await new Promise((r) => setTimeout(r, 2000));
      if (!res.destroyed) {
        res.writeHead(200);
        res.end('ok');
      }
    });
    const ep = await endpoint(ws.key, rx.url);
    await emit(h, ws.workspaceId, 1);
    await waitFor('succeeded', async () => (await deliveriesOf(h, ep.id))[0]?.status === 'succeeded', 10_000);
    const [d] = await deliveriesOf(h, ep.id);
    const attempts = await attemptsOf(h, d!.id);
    expect(attempts.map((a) => [a.attempt, a.status_code, a.error])).toEqual([[1, null, 'timeout'], [2, 200, null]]);
    expect(attempts[0]!.duration_ms).toBeGreaterThanOrEqual(790);
    expect(attempts[0]!.duration_ms).toBeLessThan(1500);
  });

  it('honours Retry-After on 429 and 503 instead of the schedule', async () => {
    const ws = await newWorkspace(h, 'retry-after');
    const rx = await receiver((_req, res, n) => {
      if (n === 1) res.writeHead(503, { 'retry-after': '1' });
      else if (n === 2) res.writeHead(429, { 'retry-after': new Date(Date.now() + 2000).toUTCString() });
      else res.writeHead(204);
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url);
    await emit(h, ws.workspaceId, 1);
    await waitFor('3 requests', () => rx.requests.length === 3, 10_000);
    const gap1 = rx.requests[1]!.at - rx.requests[0]!.at;
    const gap2 = rx.requests[2]!.at - rx.requests[1]!.at;
    expect(gap1).toBeGreaterThanOrEqual(990);
    expect(gap1).toBeLessThan(1800);
    expect(gap2).toBeGreaterThanOrEqual(900); // an HTTP date has 1 s resolution
    await waitFor('succeeded', async () => (await deliveriesOf(h, ep.id))[0]?.status === 'succeeded');
    expect((await attemptsOf(h, (await deliveriesOf(h, ep.id))[0]!.id)).map((a) => a.status_code)).toEqual([503, 429, 204]);
  });

  it('never follows a redirect: 3xx is a failure', async () => {
    const ws = await newWorkspace(h, 'redirect');
    const target = await receiver();
    const rx = await receiver((_req, res, n) => {
      res.writeHead(n === 1 ? 302 : 200, n === 1 ? { location: target.url } : {});
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url);
    await emit(h, ws.workspaceId, 1);
    await waitFor('succeeded', async () => (await deliveriesOf(h, ep.id))[0]?.status === 'succeeded');
    const attempts = await attemptsOf(h, (await deliveriesOf(h, ep.id))[0]!.id);
    expect(attempts.map((a) => [a.status_code, a.error])).toEqual([[302, 'redirect_not_followed'], [200, null]]);
    expect(target.requests).toHaveLength(0);
  });

  it('rotation overlap: receivers holding only the old or only the new secret both verify; after it, only the new signs', async () => {
    const ws = await newWorkspace(h, 'rotate');
    const rx = await receiver();
    const ep = await endpoint(ws.key, rx.url);
    const old = { id: ep.secret_key_id, secret: ep.secret };
    const rot = (await h.req({ method: 'POST', url: `${EP}/${ep.id}/secrets/rotate`, key: ws.key, payload: { overlap_hours: 24 } })).json();
    const fresh = { id: rot.secret_key_id as string, secret: rot.secret as string };
    await emit(h, ws.workspaceId, 1);
    await waitFor('delivery', () => rx.requests.length === 1);
    const req = rx.requests[0]!;
    const groups = header(req, 'x-signature').split(/,(?=t=)/);
    expect(groups.map((g) => /k=([^,]+)/.exec(g)![1])).toEqual([fresh.id, old.id]);
    for (const [g, sec] of [[groups[0]!, fresh], [groups[1]!, old]] as const) {
      const [, t, s] = /^t=(\d+),k=[^,]+,h=sha256,s=([0-9a-f]{64})$/.exec(g)!;
      expect(createHmac('sha256', sec.secret).update(`${t}.`).update(req.body).digest('hex')).toBe(s);
    }
    expect(header(req, 'webhook-signature').split(' ')).toHaveLength(2);
    for (const sec of [old, fresh]) {
      expect((await verifyWebhook(req.body, req.headers, [sec])).attempt).toBe(1); // old-only and new-only receivers
      expect(new Webhook(sec.secret).verify(req.body.toString(), req.headers as Record<string, string>)).toBeTruthy();
      expect((await verifyWebhook(req.body, { 'x-signature': header(req, 'x-signature') }, [sec])).attempt).toBe(1);
    }
    // end the overlap: the old secret stops signing
    const rot2 = (await h.req({ method: 'POST', url: `${EP}/${ep.id}/secrets/rotate`, key: ws.key, payload: { overlap_hours: 0 } })).json();
    await emit(h, ws.workspaceId, 1);
    await waitFor('second delivery', () => rx.requests.length === 2);
    const after = rx.requests[1]!;
    expect(header(after, 'x-signature')).toMatch(new RegExp(`^t=\\d+,k=${rot2.secret_key_id},h=sha256,s=[0-9a-f]{64}$`));
    await expect(verifyWebhook(after.body, after.headers, [old])).rejects.toThrow(/key id|does not match/);
    await expect(verifyWebhook(after.body, after.headers, [fresh])).rejects.toThrow();
    expect((await verifyWebhook(after.body, after.headers, [{ id: rot2.secret_key_id, secret: rot2.secret }])).attempt).toBe(1);
  });

  it('keeps at most max_concurrency deliveries in flight to one endpoint', async () => {
    const ws = await newWorkspace(h, 'concurrency');
    let inFlight = 0;
    let peak = 0;
    const rx = await receiver(async (_req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 100));
      inFlight--;
      res.writeHead(200);
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url, { max_concurrency: 3 });
    await emit(h, ws.workspaceId, 15);
    await waitFor('15 delivered', async () => (await deliveriesOf(h, ep.id)).filter((d) => d.status === 'succeeded').length === 15, 15_000);
    expect(peak).toBe(3);
    expect(rx.requests).toHaveLength(15);
  });

  it('the test call sends a signed webhook.ping to that endpoint only', async () => {
    const ws = await newWorkspace(h, 'ping');
    const rx = await receiver();
    const other = await receiver();
    const ep = await endpoint(ws.key, rx.url);
    await endpoint(ws.key, other.url);
    const r = await h.req({ method: 'POST', url: `${EP}/${ep.id}/test`, key: ws.key });
    expect(r.statusCode).toBe(202);
    await waitFor('ping', () => rx.requests.length === 1);
    const env = await verifyWebhook(rx.requests[0]!.body, rx.requests[0]!.headers, ep.secret);
    expect(env).toMatchObject({ type: 'webhook.ping', attempt: 1, data: { endpoint_id: ep.id, url: rx.url } });
    await waitFor('recorded', async () => (await h.req({ method: 'GET', url: `/v1/webhooks/deliveries/${r.json().id}`, key: ws.key })).json().status === 'succeeded');
    expect(other.requests).toHaveLength(0);
  });

  it('a receiver dropping 10 % at random over 2 000 events: all delivered, exactly 2 000 distinct Event-Ids', async () => {
    const ws = await newWorkspace(h, 'chaos');
    const seen = new Set<string>();
    let dropped = 0;
    const rx = await receiver((req, res) => {
      const roll = Math.random();
      if (roll < 0.05) {
        dropped++;
        res.socket?.destroy(); // connection dropped without an answer
        return;
      }
      if (roll < 0.1) {
        dropped++;
        res.writeHead(500);
        res.end();
        return;
      }
      seen.add(header(req, 'event-id'));
      res.writeHead(200);
      res.end();
    });
    const ep = await endpoint(ws.key, rx.url, { max_concurrency: 20 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(...(await emit(h, ws.workspaceId, 500)));
    await waitFor('all delivered', async () => {
      const { rows } = await h.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'succeeded'`, [ep.id]);
      return rows[0]!.n === 2000;
    }, 60_000, 100);
    expect(seen.size).toBe(2000);
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(dropped).toBeGreaterThan(100);
    expect(rx.requests.length).toBeGreaterThanOrEqual(2000 + dropped);
    const { rows } = await h.pool.query(`SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 GROUP BY status`, [ep.id]);
    expect(rows).toEqual([{ status: 'succeeded', n: 2000 }]);
  }, 90_000);
});
