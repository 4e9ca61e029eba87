/**
 * What the control plane's /readyz and /metrics say about JetStream and the outbox, against
 * private nats-servers: a bucket or stream JetStream cannot place is a 503 that names it and says
 * why; the visitor-salt bucket follows KV_REPLICAS (an R1 one a node made first is raised); an
 * outbox backlog is shown (depth, age, the relay's view) without making the control plane unready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsNames, openClickSaltsBucket, openLinksBucket } from '../../shared/index.js';
import {
  createTestDatabase, freePort, startNatsCluster, startNatsServer, startProcess, testPrefix, waitFor, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';

const KEY = 'lp_bootstrap_secret_for_js_readiness_01';
let db: TestDatabase;
const running: RunningProcess[] = [];
const cleanup: Array<() => Promise<void> | void> = [];

interface Readyz {
  status: string;
  checks: Record<string, boolean>;
  details: {
    jetstream: { placed: boolean; problems: string[] };
    outbox: { depth: number; oldest_age_seconds: number; relay: { leader: boolean; publishing: string; last_error: string | null; last_success_age_seconds: number | null } };
  };
}

async function controlPlane(natsUrl: string, prefix: string, env: Record<string, string> = {}): Promise<{ base: string; ops: string; p: RunningProcess }> {
  const [port, opsPort] = [await freePort(), await freePort()];
  const p = startProcess('control-plane/main.js', { PORT: String(port), OPS_PORT: String(opsPort), DATABASE_URL: db.url, NATS_URL: natsUrl, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY, ...env });
  running.push(p);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/healthz`, 200, 60_000);
  return { base, ops: `http://127.0.0.1:${opsPort}`, p };
}

const readyz = async (base: string): Promise<{ status: number; body: Readyz }> => {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: (await r.json()) as Readyz };
};

/** nats-server -js with a small `max_file_store`. */
async function smallNats(maxFileStore: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lp-nats-small-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, 'js')}", max_file_store: ${maxFileStore} }\n`);
  const proc: ChildProcess = spawn('nats-server', ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
  cleanup.push(() => {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `nats://127.0.0.1:${port}`;
  await waitFor('small nats-server', async () => {
    const nc = await connect({ servers: url, timeout: 500, reconnect: false }).catch(() => null);
    await nc?.close();
    return nc !== null;
  });
  return url;
}

beforeAll(async () => {
  db = await createTestDatabase('js_readiness');
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(5_000)));
  for (const c of cleanup) await c();
  await db?.drop();
});

describe('JetStream placement and the outbox backlog in /readyz', () => {
  it('a clicks stream larger than max_file_store: 503 naming the stream and JetStream\'s reason; ready once it fits', async () => {
    const url = await smallNats('8MB');
    const prefix = testPrefix('jsfull');
    const { base, p } = await controlPlane(url, prefix, { CLICK_STREAM_MAX_MB: '2048' });
    const r = await waitFor('a placement problem', async () => {
      const x = await readyz(base);
      return x.body.details.jetstream.problems.some((m) => m.startsWith('the clicks stream')) ? x : null;
    }, 20_000, 200);
    expect(r.status).toBe(503);
    expect(r.body.status).toBe('not_ready');
    expect(r.body.checks).toEqual({ postgres: true, nats: true, jetstream: false });
    expect(r.body.details.jetstream.placed).toBe(false);
    expect(r.body.details.jetstream.problems).toEqual([
      expect.stringMatching(new RegExp(`^the clicks stream ${prefix}_CLICKS \\(1 replica, max 2048 MB\\) cannot be placed: .*insufficient storage`, 'i')),
    ]);
    // one warning for the outage, not one per retry
    expect(p.logs().filter((l) => l.msg === 'JetStream setup failing; retrying with backoff')).toHaveLength(1);
    await p.stop();

    const fits = await controlPlane(url, prefix, { CLICK_STREAM_MAX_MB: '4' });
    await waitForHttp(`${fits.base}/readyz`, 200, 20_000);
    expect((await readyz(fits.base)).body.details.jetstream).toEqual({ placed: true, problems: [] });
    await fits.p.stop();
  }, 90_000);

  it('KV_REPLICAS=3 on a single server: 503 naming both buckets', async () => {
    const nats = await startNatsServer();
    cleanup.push(() => nats.destroy());
    const prefix = testPrefix('jsr3');
    const { base, p } = await controlPlane(nats.url, prefix, { KV_REPLICAS: '3', CLICK_INGEST: 'false' });
    const r = await waitFor('placement problems', async () => {
      const x = await readyz(base);
      return x.body.details.jetstream.problems.length === 2 ? x : null;
    }, 20_000, 200);
    expect(r.status).toBe(503);
    expect(r.body.details.jetstream.problems).toEqual([
      expect.stringMatching(new RegExp(`^the links bucket ${prefix}_links \\(3 replicas\\) cannot be placed: .*replicas > 1 not supported in non-clustered mode`)),
      expect.stringMatching(new RegExp(`^the visitor-salt bucket ${prefix}_click_salts \\(3 replicas\\) cannot be placed: .*replicas > 1 not supported in non-clustered mode`)),
    ]);
    await p.stop();
  }, 60_000);

  it('on a three-server cluster the visitor-salt bucket has KV_REPLICAS replicas, also when a node created it with one', async () => {
    const cluster = await startNatsCluster(3);
    cleanup.push(() => cluster.destroy());
    const prefix = testPrefix('jssalt');
    const nc = await connect({ servers: cluster.urls });
    try {
      await openClickSaltsBucket(nc, prefix, { replicas: 1 }); // a node that started first
      const { base, p } = await controlPlane(cluster.urls, prefix, { KV_REPLICAS: '3', CLICK_STREAM_REPLICAS: '3' });
      await waitForHttp(`${base}/readyz`, 200, 30_000);
      const jsm = await jetstreamManager(nc);
      const names = natsNames(prefix);
      expect((await jsm.streams.info(`KV_${names.clickSaltsBucket}`)).config.num_replicas).toBe(3);
      expect((await jsm.streams.info(`KV_${names.linksBucket}`)).config.num_replicas).toBe(3);
      expect((await jsm.streams.info(names.clicksStream)).config.num_replicas).toBe(3);
      await p.stop();
    } finally {
      await nc.close();
    }
  }, 90_000);

  it('an outbox backlog is shown (depth, age, the relay failing) and exported, without a 503', async () => {
    const nats = await startNatsServer();
    cleanup.push(() => nats.destroy());
    const prefix = testPrefix('jsbacklog');
    const { base, ops, p } = await controlPlane(nats.url, prefix, { CLICK_INGEST: 'false' });
    await waitForHttp(`${base}/readyz`, 200, 30_000);
    const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    expect((await fetch(`${base}/v1/domains`, { method: 'POST', headers: auth, body: JSON.stringify({ hostname: 'backlog.example.com' }) })).status).toBe(201);
    await waitFor('outbox empty', async () => (await readyz(base)).body.details.outbox.depth === 0, 10_000, 200);
    const ok = await readyz(base);
    expect(ok.body.details.outbox).toMatchObject({ depth: 0, oldest_age_seconds: 0, relay: { leader: true, publishing: 'ok', last_error: null } });

    // the links bucket's stream goes: every KV write is refused (no responders)
    const nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.delete(`KV_${natsNames(prefix).linksBucket}`);
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/v1/links`, { method: 'POST', headers: auth, body: JSON.stringify({ domain: 'backlog.example.com', path: `b${i}`, destination_url: 'https://example.org/' }) });
      expect(r.status).toBe(201); // the API keeps taking writes
    }
    const down = await waitFor('backlog and failing relay shown', async () => {
      const x = await readyz(base);
      return x.body.details.outbox.depth === 3 && x.body.details.outbox.relay.publishing === 'failing' && x.body.details.outbox.oldest_age_seconds >= 1 ? x : null;
    }, 25_000, 200);
    expect(down.status).toBe(200);
    expect(down.body.checks).toEqual({ postgres: true, nats: true, jetstream: true });
    expect(down.body.details.outbox.relay.last_error).toMatch(/^publishing 1 outbox entries failed/);
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(/^linkplane_outbox_depth 3$/m);
    expect(Number(/^linkplane_outbox_oldest_age_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/^linkplane_outbox_relay_failing 1$/m);

    await openLinksBucket(nc, prefix);
    await waitFor('backlog published', async () => (await readyz(base)).body.details.outbox.depth === 0, 20_000, 200);
    expect((await readyz(base)).body.details.outbox.relay.publishing).toBe('ok');
    await nc.close();
    await p.stop();
  }, 90_000);
});
