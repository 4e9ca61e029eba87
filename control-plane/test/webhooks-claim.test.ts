/**
 * The claim's per-endpoint room, checked at the SQL level with no dispatcher running: two claims
 * interleaved by hand, the way two control planes' dispatchers can interleave under load.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDeliveries } from '../webhooks/queue.js';
import { fanOutBatch } from '../webhooks/fan-out.js';
import { sleep, TEST_SECRETS_KEY } from '../../shared/testing/index.js';
import { secretBoxFrom } from '../secrets/index.js';
import { createHarness, type Harness } from './harness.js';
import { emit, newWorkspace } from './webhooks-helpers.js';

const opts = { limit: 100, endpointConcurrency: 8, leaseMs: 3_000, secrets: secretBoxFrom({ SECRETS_KEY: TEST_SECRETS_KEY }) };

describe('webhook_claim', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('wh_claim', { WEBHOOK_ALLOW_PRIVATE: 'true' });
  });
  afterAll(async () => {
    await h.close();
  });

  async function endpointWithDue(label: string, maxConcurrency: number, events: number): Promise<string> {
    const ws = await newWorkspace(h, label);
    const r = await h.req({ method: 'POST', url: '/v1/webhooks/endpoints', key: ws.key, payload: { url: 'http://127.0.0.1:9/hook', max_concurrency: maxConcurrency } });
    expect(r.statusCode, r.body).toBe(201);
    await emit(h, ws.workspaceId, events);
    while ((await fanOutBatch(h.pool, 1000)).events > 0);
    return (r.json() as { id: string }).id;
  }

  it('a claim whose transaction began before another claim committed still counts that claim’s leases', async () => {
    const ep = await endpointWithDue('interleaved', 2, 6);
    const early = await h.pool.connect();
    try {
      // this transaction's now() is fixed here, before the other claim runs
      await early.query('BEGIN');
      await early.query('SELECT now()');
      await sleep(100);
      const first = await claimDeliveries(h.pool, opts);
      expect(first.map((d) => d.endpointId)).toEqual([ep, ep]);
      const second = await claimDeliveries(early, opts);
      await early.query('COMMIT');
      expect(second).toEqual([]);
    } finally {
      early.release();
    }
    const { rows } = await h.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1 AND lease_token IS NOT NULL',
      [ep],
    );
    expect(rows[0]!.n).toBe(2);
  });

  it('leases up to the room left, and again once a lease has expired', async () => {
    const ep = await endpointWithDue('room', 3, 5);
    expect(await claimDeliveries(h.pool, { ...opts, limit: 2 })).toHaveLength(2);
    expect(await claimDeliveries(h.pool, opts)).toHaveLength(1);
    expect(await claimDeliveries(h.pool, opts)).toHaveLength(0);
    // the three leases run out: the room is back, and the cut-short attempts are recorded
    await h.pool.query(`UPDATE webhook_deliveries SET next_attempt_at = now() - interval '1 second' WHERE endpoint_id = $1 AND lease_token IS NOT NULL`, [ep]);
    const again = await claimDeliveries(h.pool, opts);
    expect(again).toHaveLength(3);
    const { rows } = await h.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = $1 AND a.error = 'interrupted'`,
      [ep],
    );
    expect(rows[0]!.n).toBe(3);
  });
});
