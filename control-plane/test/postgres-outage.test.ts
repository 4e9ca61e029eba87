/**
 * The control plane and its Postgres going away, on a private cluster: a fast restart and
 * pg_terminate_backend on all its backends are survived (/readyz 503, then 200, writes work
 * again, no restart); a control plane stopping while its Postgres stops (Ctrl-C on the
 * all-in-one, a rolling deploy during a failover) exits 0 without a stack trace.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import {
  cleanupNatsPrefix, freePort, sleep, startProcess, startTempCluster, testPrefix, waitFor, waitForHttp,
  type RunningProcess, type TempCluster,
} from '../../shared/testing/index.js';
import { createPool } from '../db/pool.js';
import { PgListener } from '../webhooks/listener.js';

const KEY = 'lp_bootstrap_secret_for_pg_outage_test_01';
const auth = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
let cluster: TempCluster;
const prefix = testPrefix('pgout');
const running: RunningProcess[] = [];

async function startControlPlane(): Promise<{ p: RunningProcess; base: string }> {
  const port = await freePort();
  const p = startProcess('control-plane/main.js', {
    PORT: String(port), OPS_PORT: '0', DATABASE_URL: cluster.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY, CLICK_INGEST: 'false',
  });
  running.push(p);
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/readyz`, 200, 60_000);
  return { p, base };
}

const readyz = (base: string) => fetch(`${base}/readyz`).then((r) => r.status, () => 0);

async function terminateBackends(applicationName = 'linkplane-control-plane'): Promise<number> {
  const c = new pg.Client({ connectionString: cluster.url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>(
      `SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
      [applicationName],
    );
    return Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

const crashed = (p: RunningProcess) => p.output.filter((l) => /Release called|already been released|Uncaught|^\s+at /.test(l) || l.includes('"level":"fatal"'));

beforeAll(async () => {
  cluster = await startTempCluster();
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop(5_000)));
  await cluster?.destroy();
  await cleanupNatsPrefix(prefix).catch(() => undefined);
});

describe('the control plane while its Postgres goes away', () => {
  it('survives a fast restart and pg_terminate_backend on all its backends: /readyz 503, then 200, writes work again', async () => {
    const { p, base } = await startControlPlane();
    expect((await fetch(`${base}/v1/domains`, { method: 'POST', headers: auth, body: JSON.stringify({ hostname: 'pgout.example.com' }) })).status).toBe(201);

    await cluster.stop('fast');
    await waitFor('/readyz 503 while Postgres is down', async () => (await readyz(base)) === 503, 15_000, 100);
    await cluster.start();
    await waitFor('/readyz 200 after Postgres is back', async () => (await readyz(base)) === 200, 30_000, 100);
    const write = (path: string) =>
      fetch(`${base}/v1/links`, { method: 'POST', headers: auth, body: JSON.stringify({ domain: 'pgout.example.com', path, destination_url: 'https://example.org/' }) }).then((r) => r.status);
    expect(await waitFor('a write after the restart', async () => (await write('after-restart')) === 201, 15_000, 200)).toBe(true);

    expect(await terminateBackends()).toBeGreaterThan(0);
    await waitFor('/readyz 200 after pg_terminate_backend', async () => (await readyz(base)) === 200, 30_000, 100);
    expect(await waitFor('a write after pg_terminate_backend', async () => (await write('after-terminate')) === 201, 15_000, 200)).toBe(true);

    expect(p.child.exitCode).toBeNull();
    expect(crashed(p)).toEqual([]);
    expect((await p.stop()).code).toBe(0);
  }, 120_000);

  it('while Postgres is away each background loop logs one line when it starts failing and one when it recovers', async () => {
    const { p } = await startControlPlane();
    await sleep(1_000); // loops that failed while the process started have recovered
    const from = p.output.length;
    await cluster.stop('fast');
    await sleep(4_000);
    const during = p.output.slice(from).flatMap((l) => {
      try {
        const j = JSON.parse(l) as { level: string; msg: string };
        return j.level === 'warn' || j.level === 'error' || j.level === 'fatal' ? [j.msg] : [];
      } catch {
        return [l];
      }
    });
    const restart = p.output.length;
    await cluster.start();
    const failing = during;
    // each loop once (before: about 30 warnings with stack traces in 3 s)
    expect(failing.every((m) => m.endsWith(' failing; retrying with backoff')), failing.join('\n')).toBe(true);
    expect(new Set(failing).size).toBe(failing.length);
    for (const loop of ['outbox relay', 'webhook fan-out', 'webhook claim', 'webhook listener', 'job workers']) {
      expect(failing).toContain(`${loop} failing; retrying with backoff`);
    }
    const expected = failing.map((m) => m.replace(' failing; retrying with backoff', ' recovered')).sort();
    const since = (): string[] => p.output.slice(restart).flatMap((l) => {
      try {
        return [String((JSON.parse(l) as { msg?: string }).msg)];
      } catch {
        return [];
      }
    });
    await waitFor('every loop recovered', () => expected.every((m) => since().includes(m)), 20_000, 100);
    await sleep(500);
    // a loop whose first failure came after the 4 s window also says it recovered: each says it once
    const recovered = since().filter((m) => m.endsWith(' recovered'));
    expect(recovered).toEqual(expect.arrayContaining(expected));
    expect(new Set(recovered).size).toBe(recovered.length);
    expect((await p.stop()).code).toBe(0);
  }, 60_000);

  it('stopping while Postgres stops (SIGTERM and a fast shutdown at once, and Postgres a little after) exits 0 with no stack trace', async () => {
    for (const pgDelayMs of [0, 30, 150]) {
      const { p } = await startControlPlane();
      await sleep(300); // every loop and the webhook listener hold connections
      p.signal('SIGTERM');
      if (pgDelayMs) await sleep(pgDelayMs);
      await cluster.stop('fast');
      const exit = await p.exited;
      expect({ pgDelayMs, code: exit.code, crashed: crashed(p) }, p.output.slice(-20).join('\n')).toEqual({ pgDelayMs, code: 0, crashed: [] });
      await cluster.start();
    }
  }, 180_000);

  it('the webhook listener gives its connection back exactly once when the connection breaks after or while it stops', async () => {
    const log = createLogger({ name: 'test', level: 'silent' });
    const pool = createPool(cluster.url, { max: 2, applicationName: 'lp-listener-test' });
    try {
      for (const breakWhile of ['after stop', 'during stop'] as const) {
        let woken = 0;
        const listener = new PgListener(pool, { lp_listener_test: () => woken++ }, log);
        listener.start();
        await waitFor('listener connected', () => woken === 1, 10_000);
        const stopping = listener.stop();
        if (breakWhile === 'after stop') await stopping; // back in the pool, idle; then its connection breaks
        expect(await terminateBackends('lp-listener-test')).toBe(1);
        await stopping;
        await sleep(300); // the connection error arrives; a second release would throw here, uncaught
        expect({ breakWhile, total: pool.totalCount }).toEqual({ breakWhile, total: 0 });
      }
      // the pool still works
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});
