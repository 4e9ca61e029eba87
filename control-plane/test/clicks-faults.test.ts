/**
 * Click ingest under faults: Postgres stopped in the middle (JetStream keeps the batches, ingest
 * retries), the control plane SIGKILLed in the middle and restarted, the control plane SIGTERMed
 * in the middle and restarted — exactly the clicks sent are stored, rollups agree with them.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ensureClicksStream } from '../../shared/index.js';
import {
  cleanupNatsPrefix, createTestDatabase, freePort, startProcess, startTempCluster, testPrefix, TEST_NATS_URL, waitFor, waitForHttp,
  type TempCluster, type TestDatabase,
} from '../../shared/testing/index.js';
import { loadControlPlaneConfig } from '../config.js';
import { migrate } from '../db/migrate.js';
import { createPool, type Pool } from '../db/pool.js';
import { createClickPipeline } from '../ingest/index.js';
import { createMetrics } from '../metrics.js';
import { clickCount, makeClicks, publishClicks, type FixtureLink } from './click-fixtures.js';
import { rollupsAgree } from './rollup-oracle.js';

const LINKS: FixtureLink[] = ['a', 'b', 'c', 'ab-d'].map((x, i) => ({
  id: `ln_01JDFAULT00000000000000000${i}`, workspaceId: 'ws_faults', domain: 'f.example.com', path: x,
}));

describe('click ingest with Postgres stopped in the middle', () => {
  let cluster: TempCluster;
  let pool: Pool;
  let nc: NatsConnection;
  const prefix = testPrefix('clkpgdown');

  beforeAll(async () => {
    cluster = await startTempCluster();
    pool = createPool(cluster.url, { max: 4 });
    await migrate(pool);
    nc = await connect({ servers: TEST_NATS_URL });
  });
  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await nc?.close();
    await cleanupNatsPrefix(prefix).catch(() => undefined);
    await cluster?.destroy();
  });

  it('stores every click exactly once after Postgres comes back', async () => {
    const config = loadControlPlaneConfig({ DATABASE_URL: cluster.url, NATS_PREFIX: prefix, NATS_URL: TEST_NATS_URL, CLICK_INGEST_ACK_WAIT_MS: '3000', CLICK_INGEST_BATCH: '2000' });
    const log = createLogger({ name: 'test-pgdown', level: process.env.LP_TEST_LOG ?? 'silent' });
    const { ingest, compactor } = createClickPipeline({ pool, nats: async () => nc, config, log, metrics: createMetrics() });
    ingest.start();
    compactor.start();
    try {
      const start = Date.now() - 3_600_000;
      const before = makeClicks(10_000, LINKS, { start, spacingMs: 100, seed: 31 });
      await publishClicks(nc, prefix, before, { perBatch: 500, batchIdPrefix: 'before' });
      await waitFor('some clicks stored', async () => (await clickCount(pool)) > 0, 30_000, 50);
      await cluster.stop('immediate');
      const during = makeClicks(10_000, LINKS, { start: start + 1_000_000, spacingMs: 100, seed: 32 });
      await publishClicks(nc, prefix, during, { perBatch: 500, batchIdPrefix: 'during' });
      await new Promise((r) => setTimeout(r, 5_000)); // past the ack wait: batches get redelivered meanwhile
      await cluster.start();
      await waitFor('all clicks', async () => (await clickCount(pool).catch(() => -1)) === 20_000, 60_000, 200);
      await new Promise((r) => setTimeout(r, 1_500)); // nothing more arrives
      expect(await clickCount(pool)).toBe(20_000);
      await compactor.drain();
      await rollupsAgree(pool);
    } finally {
      await ingest.stop();
      await compactor.stop();
    }
  });
});

describe('click ingest when the control plane is killed or stopped in the middle', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let admin: pg.Client;
  const prefix = testPrefix('clkcpkill');

  beforeAll(async () => {
    db = await createTestDatabase('clkcpkill');
    nc = await connect({ servers: TEST_NATS_URL });
    await ensureClicksStream(await jetstreamManager(nc), prefix, {}, 'own');
  });
  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await nc?.close();
    await cleanupNatsPrefix(prefix).catch(() => undefined);
    await db?.drop();
  });

  const startCp = async () => {
    const port = await freePort();
    const cp = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, NATS_URL: TEST_NATS_URL, LOG_LEVEL: 'warn',
      CLICK_INGEST_ACK_WAIT_MS: '3000', CLICK_INGEST_BATCH: '2000', CLICK_INGEST_FETCH: '10', WEBHOOK_WORKERS: '0', JOB_WORKERS: '0',
    });
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 200, 30_000);
    return cp;
  };

  it('SIGKILL mid-ingest, then SIGTERM mid-ingest: 60 000 clicks stored exactly once', async () => {
    const start = Date.now() - 2 * 3_600_000;
    const clicks = makeClicks(60_000, LINKS, { start, spacingMs: 100, seed: 41 });
    await publishClicks(nc, prefix, clicks.slice(0, 30_000), { perBatch: 500, batchIdPrefix: 'one' });
    let cp = await startCp();
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const count = async () => Number((await admin.query('SELECT count(*) AS n FROM clicks')).rows[0].n);
    await waitFor('ingest under way', async () => (await count()) >= 4_000, 60_000, 20);
    cp.signal('SIGKILL');
    const killed = await cp.exited;
    expect(killed.signal).toBe('SIGKILL');
    const afterKill = await count();
    expect(afterKill).toBeLessThan(30_000);

    await publishClicks(nc, prefix, clicks.slice(30_000), { perBatch: 500, batchIdPrefix: 'two' });
    cp = await startCp();
    await waitFor('ingest under way again', async () => (await count()) >= afterKill + 10_000, 60_000, 20);
    const stopped = await cp.stop();
    expect(stopped.code).toBe(0);
    expect(cp.output.join('\n')).not.toMatch(/"level":"error"/);
    const afterStop = await count();
    expect(afterStop).toBeLessThan(60_000);

    cp = await startCp();
    try {
      await waitFor('all 60 000', async () => (await count()) === 60_000, 90_000, 100);
      await new Promise((r) => setTimeout(r, 4_000)); // redeliveries of the killed process's batches are skipped
      expect(await count()).toBe(60_000);
      const ids = await admin.query('SELECT count(DISTINCT id)::int AS n FROM clicks');
      expect(ids.rows[0].n).toBe(60_000);
    } finally {
      expect((await cp.stop()).code).toBe(0);
    }
    const pool = createPool(db.url, { max: 2 });
    try {
      await rollupsAgree(pool);
    } finally {
      await pool.end();
    }
  }, 240_000); // its own waits allow up to 30 + 60 + 60 + 90 s: on a loaded machine the 60 s default cut it short
});
