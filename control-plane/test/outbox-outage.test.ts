/**
 * The outbox relay while JetStream refuses its writes (the links bucket's stream gone, as when it
 * cannot be placed or has no quorum), on a private nats-server: it backs off whatever wakes it —
 * API writes (each a NOTIFY) do not make it resend the backlog — probes with one row, shows the
 * outage (health, metrics), and publishes the whole backlog once JetStream takes writes again.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileLink, createLogger, linkKvKey, natsNames, openLinksBucket, type CompiledLink } from '../../shared/index.js';
import { sleep, startNatsServer, waitFor, type NatsServer } from '../../shared/testing/index.js';
import { withTx } from '../db/tx.js';
import { enqueue, putLink } from '../outbox/enqueue.js';
import { OutboxRelay } from '../outbox/relay.js';
import { createDomain, createHarness, type Harness } from './harness.js';

const domain = 'go.outage.example.com';
const link = (path: string): CompiledLink =>
  compileLink(
    { id: `ln_${path}`, workspaceId: 'ws_default', version: 1, domain, path, destinationUrl: `https://example.org/${path}`, utm: null, routing: null,
      redirectStatus: null, forwardQuery: false, disabled: false, expiresAt: null, status: 'live' },
    { hostname: domain, workspaceId: 'ws_default', utmTemplate: null, defaultRedirectStatus: null, notFoundUrl: null, expiredUrl: null, version: 1 },
  );

let h: Harness;
let nats: NatsServer;
let nc: NatsConnection;
let watcher: NatsConnection;
let relay: OutboxRelay | null = null;

beforeAll(async () => {
  [h, nats] = await Promise.all([createHarness('outbox_outage'), startNatsServer()]);
  await createDomain(h, domain);
  nc = await connect({ servers: nats.url });
  watcher = await connect({ servers: nats.url });
});
afterAll(async () => {
  await relay?.stop();
  await nc?.close();
  await watcher?.close();
  await h?.close();
  await nats?.destroy();
});

const unpublished = async () => Number((await h.pool.query(`SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL`)).rows[0].n);

describe('outbox relay while JetStream refuses writes', () => {
  it('backs off whatever wakes it, probes with one row, then publishes the whole backlog', async () => {
    const bucket = natsNames(h.prefix).linksBucket;
    const kv = await openLinksBucket(nc, h.prefix);
    const registry = new Registry();
    relay = new OutboxRelay({ pool: h.pool, kv: async () => kv, log: createLogger({ name: 't', level: 'silent' }), batchSize: 500, pollMs: 20, ackTimeoutMs: 300, registry });
    relay.start();
    await withTx(h.pool, (tx) => enqueue(tx, [putLink(link('first'))]));
    await waitFor('first published', async () => (await unpublished()) === 0, 5_000);
    expect(relay.health()).toMatchObject({ leader: true, publishing: 'ok', last_error: null });

    // JetStream loses the bucket's stream: KV writes go unanswered (the watcher below is their only subscriber), as without quorum
    await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
    let sent = 0;
    const sub = watcher.subscribe(`$KV.${bucket}.>`, { callback: () => void sent++ });
    await watcher.flush();
    // a 2 000-row backlog (a bulk job), then 30 API writes in 3 s, each with its NOTIFY
    await withTx(h.pool, (tx) => enqueue(tx, Array.from({ length: 2_000 }, (_, i) => putLink(link(`backlog-${i}`)))));
    for (let i = 0; i < 30; i++) {
      await withTx(h.pool, (tx) => enqueue(tx, [putLink(link(`write-${i}`))]));
      await sleep(100);
    }
    const during = sent;
    // the first round after the stream went sends a full batch (500) and fails; then, before, each
    // NOTIFY cut the backoff short and the relay resent a 500-row batch (~15 000 messages); now:
    // probes of one row at 0.1, 0.2, 0.4, 0.8, 1.6 s… after it, whatever the writes
    const probes = during - 500;
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(probes).toBeLessThanOrEqual(8);
    expect(relay.health()).toMatchObject({ leader: true, publishing: 'failing' });
    expect(relay.health().last_error).toMatch(/^publishing 1 outbox entries failed/);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/^linkplane_outbox_relay_failing 1$/m);
    expect(metrics).toMatch(/^linkplane_outbox_relay_leader 1$/m);
    expect(Number(/^linkplane_outbox_relay_failures_total (\d+)$/m.exec(metrics)?.[1])).toBe(probes + 1);
    expect(await unpublished()).toBe(2_030);

    // JetStream takes writes again: the next probe goes through, then the backlog at full speed
    await openLinksBucket(nc, h.prefix);
    await waitFor('backlog published', async () => (await unpublished()) === 0, 20_000, 100);
    sub.unsubscribe();
    expect(relay.health()).toMatchObject({ leader: true, publishing: 'ok', last_error: null });
    expect(await registry.metrics()).toMatch(/^linkplane_outbox_relay_failing 0$/m);
    expect((await kv.get(linkKvKey(domain, 'write-29')))?.json<CompiledLink>().destination).toBe('https://example.org/write-29');
    expect((await kv.get(linkKvKey(domain, 'backlog-1999')))?.json<CompiledLink>().destination).toBe('https://example.org/backlog-1999');
    await relay.stop();
    relay = null;
  }, 60_000);
});
