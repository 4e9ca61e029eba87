/**
 * The real control plane process (dist/) under faults: killed after the receiver answered but
 * before the attempt was recorded → redelivered with the same event id after a restart; SIGTERM
 * while a delivery is in flight → the attempt finishes and is recorded before exit 0.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@linkplane/sdk';
import { cleanupNatsPrefix, createTestDatabase, freePort, startProcess, testPrefix, waitFor, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';
import { startReceiver, type Receiver } from './webhooks-helpers.js';

const KEY = 'lp_test_webhook_crash_admin_key_0123456789';

describe('webhooks across control-plane crashes', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let port: number;
  const prefix = testPrefix('whcrash');
  const procs: RunningProcess[] = [];
  const receivers: Receiver[] = [];

  function controlPlane(): RunningProcess {
    const p = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY, DB_POOL_MAX: '6',
      WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '1000', WEBHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms', WEBHOOK_POLL_MS: '50',
    });
    procs.push(p);
    return p;
  }

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  beforeAll(async () => {
    db = await createTestDatabase('whcrash');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    port = await freePort();
  });
  afterAll(async () => {
    for (const p of procs) await p.stop(2000);
    for (const r of receivers) await r.close();
    await pool.end();
    await db.drop();
    await cleanupNatsPrefix(prefix).catch(() => undefined);
  });

  it('killed after the receiver answered, before recording → redelivered with the same event id', async () => {
    let cp = controlPlane();
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    let victim: RunningProcess | null = cp;
    const rx = await startReceiver((_req, res) => {
      // freeze the dispatcher first: killing it right after answering raced with a fast dispatcher
      // on a busy machine, which sometimes read the answer and committed the outcome first
      const v = victim;
      victim = null;
      v?.signal('SIGSTOP');
      res.writeHead(200);
      // the answer is on the wire; the dispatcher dies before it can write the outcome
      res.end('got it', () => v?.signal('SIGKILL'));
    });
    receivers.push(rx);
    const ep = await api('POST', '/v1/webhooks/endpoints', { url: rx.url, events: ['link.created'] });
    expect(ep.status).toBe(201);
    expect((await api('POST', '/v1/domains', { hostname: 'crash.example.com' })).status).toBe(201);
    const link = await api('POST', '/v1/links', { domain: 'crash.example.com', path: 'boom', destination_url: 'https://example.org/' });
    expect(link.status).toBe(201);

    await waitFor('first delivery', () => rx.requests.length === 1, 15_000);
    expect((await cp.exited).signal).toBe('SIGKILL');
    const first = rx.requests[0]!;
    const eventId = String(first.headers['event-id']);
    expect(first.headers['event-attempt']).toBe('1');
    // nothing recorded: the delivery is still leased (attempt 1 made) and no attempt has an outcome
    const before = await pool.query(`SELECT status, attempts, lease_token IS NOT NULL AS leased FROM webhook_deliveries`);
    expect(before.rows).toEqual([{ status: 'pending', attempts: 1, leased: true }]);
    expect((await pool.query('SELECT 1 FROM webhook_attempts')).rowCount).toBe(0);

    cp = controlPlane();
    await waitFor('redelivery', () => rx.requests.length === 2, 20_000);
    const second = rx.requests[1]!;
    expect(second.headers['event-id']).toBe(eventId);
    expect(second.headers['webhook-id']).toBe(eventId);
    expect(second.headers['event-attempt']).toBe('2');
    const env = await verifyWebhook(second.body, second.headers, String(ep.json.secret));
    expect(env).toMatchObject({ id: eventId, type: 'link.created', attempt: 2, data: link.json });
    await waitFor('recorded', async () => (await pool.query(`SELECT 1 FROM webhook_deliveries WHERE status = 'succeeded'`)).rowCount === 1);
    const attempts = await pool.query(`SELECT attempt, status_code, error FROM webhook_attempts ORDER BY attempt`);
    expect(attempts.rows).toEqual([{ attempt: 1, status_code: null, error: 'interrupted' }, { attempt: 2, status_code: 200, error: null }]);
    expect(rx.requests).toHaveLength(2);
    await cp.stop();
  }, 60_000);

  it('SIGTERM with a delivery in flight: the attempt finishes and is recorded, exit 0', async () => {
    const cp = controlPlane();
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    let stopping: Promise<{ code: number | null }> | null = null;
    const rx = await startReceiver(async (_req, res) => {
      stopping = cp.stop(); // SIGTERM arrives while this request is being answered
      await new Promise((r) => setTimeout(r, 400));
      res.writeHead(200);
      res.end('slow but fine');
    });
    receivers.push(rx);
    const ep = await api('POST', '/v1/webhooks/endpoints', { url: rx.url, events: ['link.created'] });
    await api('POST', '/v1/links', { domain: 'crash.example.com', path: 'term', destination_url: 'https://example.org/' });
    await waitFor('delivery', () => stopping !== null, 15_000);
    expect((await stopping!).code).toBe(0);
    const { rows } = await pool.query(
      `SELECT d.status, a.status_code, a.response_body FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id WHERE d.endpoint_id = $1`,
      [ep.json.id],
    );
    expect(rows).toEqual([{ status: 'succeeded', status_code: 200, response_body: 'slow but fine' }]);
  }, 60_000);
});
