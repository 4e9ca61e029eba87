import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { compileLink, linkKvKey, openLinksBucket, type CompiledLink } from '../../shared/index.js';
import { startNatsServer, startProcess, waitFor, waitForHttp, freePort } from '../../shared/testing/index.js';
import { withTx } from '../db/tx.js';
import { enqueue, putLink } from '../outbox/enqueue.js';
import { OutboxRelay } from '../outbox/relay.js';
import { createLogger } from '../../shared/index.js';
import { createDomain, createHarness, type Harness } from './harness.js';

const domain = 'go.relay.example.com';

function compiled(path: string, destination: string, version = 1): CompiledLink {
  return compileLink(
    { id: `ln_${path}`, workspaceId: 'ws_default', version, domain, path, destinationUrl: destination, utm: null, routing: null,
      redirectStatus: null, forwardQuery: false, disabled: false, expiresAt: null, status: 'live' },
    { hostname: domain, workspaceId: 'ws_default', utmTemplate: null, defaultRedirectStatus: null, notFoundUrl: null, expiredUrl: null, version: 1 },
  );
}

async function kvDestination(h: Harness, path: string): Promise<string | null> {
  const { kv } = await h.nats();
  const e = await kv.get(linkKvKey(domain, path));
  if (!e || e.operation !== 'PUT') return null;
  return (e.json() as CompiledLink).destination;
}

const unpublished = async (h: Harness) => Number((await h.pool.query(`SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL`)).rows[0].n);

describe('outbox relay', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('outbox_relay');
    await createDomain(h, domain);
  });
  afterAll(async () => {
    await h.close();
  });

  it('an API write reaches the KV bucket', async () => {
    const relay = await h.relay();
    relay.start();
    const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'api-write', destination_url: 'https://example.org/api' } });
    expect(r.statusCode).toBe(201);
    await waitFor('KV put', async () => (await kvDestination(h, 'api-write')) === 'https://example.org/api', 5000);
    await relay.stop();
  });

  it('two transactions committing out of order (late lower seq) both reach the bucket', async () => {
    const relay = await h.relay({ pollMs: 20 });
    relay.start();
    const client = await h.pool.connect();
    try {
      await client.query('BEGIN');
      await enqueue(client, [putLink(compiled('late', 'https://example.org/late'))]); // lower seq, commits last
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(compiled('early', 'https://example.org/early'))]));
      await waitFor('higher seq published', async () => (await kvDestination(h, 'early')) === 'https://example.org/early', 5000);
      expect(await kvDestination(h, 'late')).toBeNull();
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await waitFor('late lower seq published', async () => (await kvDestination(h, 'late')) === 'https://example.org/late', 5000);
    // the round's last batch is deleted by the next read, or alone DELETE_DEFER_MS later
    await waitFor('deleted', async () => (await unpublished(h)) === 0, 2000);
    await relay.stop();
  });

  it('a change committed while a round is publishing is not left for the poll interval (no lost wake-up)', async () => {
    // poll once a minute: only the NOTIFY can bring each change out in time
    const relay = await h.relay({ pollMs: 60_000 });
    relay.start();
    await waitFor('leader', () => relay.leader, 5000);
    for (let burst = 0; burst < 30; burst++) {
      // the first commit wakes the relay; the second lands while its round is reading or publishing
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(compiled(`burst-${burst}-a`, `https://example.org/${burst}/a`))]));
      await new Promise((r) => setTimeout(r, burst % 4));
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(compiled(`burst-${burst}-b`, `https://example.org/${burst}/b`))]));
      await waitFor(`burst ${burst} published`, async () => (await kvDestination(h, `burst-${burst}-b`)) === `https://example.org/${burst}/b`, 3000, 10);
    }
    await relay.stop();
  });

  it('per-key order: the last of 200 rapid updates wins', async () => {
    const relay = await h.relay({ batchSize: 37, pollMs: 5 });
    relay.start();
    const l = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'rapid', destination_url: 'https://example.org/v0' } })).json();
    for (let i = 1; i <= 200; i++) {
      await h.req({ method: 'PATCH', url: `/v1/links/${l.id}`, payload: { destination_url: `https://example.org/v${i}` } });
    }
    await waitFor('all published', async () => (await unpublished(h)) === 0, 10_000);
    expect(await kvDestination(h, 'rapid')).toBe('https://example.org/v200');
    const { kv } = await h.nats();
    expect((await kv.get(linkKvKey(domain, 'rapid')))!.json<CompiledLink>().version).toBe(201);
    await relay.stop();
  });

  it('one leader at a time; the other takes over when it stops', async () => {
    const a = await h.relay({ pollMs: 20 });
    const b = await h.relay({ pollMs: 20 });
    a.start();
    await waitFor('a leads', () => a.leader, 5000);
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.leader).toBe(false);
    await a.stop();
    await waitFor('b takes over', () => b.leader, 5000);
    await withTx(h.pool, (tx) => enqueue(tx, [putLink(compiled('takeover', 'https://example.org/b'))]));
    await waitFor('published by b', async () => (await kvDestination(h, 'takeover')) === 'https://example.org/b', 5000);
    await b.stop();
  });
});

describe('outbox relay across restarts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('outbox_restart');
    await createDomain(h, domain);
  });
  afterAll(async () => {
    await h.close();
  });

  it('the control plane killed mid-batch: after restart every row is in the bucket', async () => {
    const N = 20_000;
    await withTx(h.pool, (tx) =>
      enqueue(tx, Array.from({ length: N }, (_, i) => putLink(compiled(`bulk-${i}`, `https://example.org/bulk/${i}`)))),
    );
    const port = await freePort();
    const env = {
      DATABASE_URL: h.db.url, NATS_PREFIX: h.prefix, PORT: String(port), RELAY_BATCH: '500', LOG_LEVEL: 'warn',
    };
    const first = startProcess('control-plane/main.js', env);
    await waitFor('some rows published', async () => (await unpublished(h)) < N, 30_000, 5);
    first.signal('SIGKILL');
    await first.exited;
    const left = await unpublished(h);
    expect(left).toBeGreaterThan(0); // killed in the middle

    const second = startProcess('control-plane/main.js', env);
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    await waitFor('all published', async () => (await unpublished(h)) === 0, 60_000, 100);
    expect((await second.stop()).code).toBe(0);

    const { kv } = await h.nats();
    let count = 0;
    for await (const _k of await kv.keys(`l.>`)) count++;
    expect(count).toBe(N);
    for (const i of [0, 4_321, N - 1]) expect(await kvDestination(h, `bulk-${i}`)).toBe(`https://example.org/bulk/${i}`);
  });
});

describe('outbox relay when NATS restarts', () => {
  it('keeps the rows while NATS is down and publishes them when it is back', async () => {
    const nats = await startNatsServer();
    const h = await createHarness('outbox_nats');
    try {
      await createDomain(h, domain);
      const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const kv = await openLinksBucket(nc, h.prefix);
      const relay = new OutboxRelay({ pool: h.pool, kv: async () => kv, log: createLogger({ name: 't', level: 'silent' }), batchSize: 100, pollMs: 20 });
      relay.start();
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(compiled('before', 'https://example.org/before'))]));
      await waitFor('published', async () => (await unpublished(h)) === 0, 5000);

      await nats.stop();
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(compiled('during', 'https://example.org/during'))]));
      await new Promise((r) => setTimeout(r, 500));
      expect(await unpublished(h)).toBe(1);

      await nats.start();
      await waitFor('published after NATS returned', async () => (await unpublished(h)) === 0, 20_000, 100);
      const e = await kv.get(linkKvKey(domain, 'during'));
      expect(e!.json<CompiledLink>().destination).toBe('https://example.org/during');
      await relay.stop();
      await nc.close();
    } finally {
      await h.close();
      await nats.destroy();
    }
  });
});
