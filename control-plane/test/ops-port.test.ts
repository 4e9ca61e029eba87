/**
 * The control plane's operations port (issue 12, Low: "/metrics ... unauthenticated on the API
 * port"): /metrics only on OPS_PORT (shared/ops-server.ts), never on the API port; /healthz and
 * /readyz on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, createTestDatabase, freePort, startProcess, testPrefix, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';
import { createHarness, type Harness } from './harness.js';

describe('API port (in-process app)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('cp_ops_inject');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('/metrics is not a route: 404 with the documented error shape, with or without a key', async () => {
    for (const key of [undefined, null]) {
      const r = await h.req({ method: 'GET', url: '/metrics', key });
      expect(r.statusCode).toBe(404);
      expect(r.body).not.toContain('linkplane_http_requests_total');
      expect(r.json()).toMatchObject({ error: { code: expect.any(String) as unknown } });
    }
  });

  it('/healthz and /readyz stay on the API port', async () => {
    expect((await h.req({ method: 'GET', url: '/healthz', key: null })).json()).toEqual({ status: 'ok' });
    expect((await h.req({ method: 'GET', url: '/readyz', key: null })).statusCode).toBe(200);
  });
});

describe('operations port (real process)', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  const prefix = testPrefix('cpops');
  let port: number;
  let opsPort: number;
  beforeAll(async () => {
    db = await createTestDatabase('cp_ops_port');
    port = await freePort();
    opsPort = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), OPS_PORT: String(opsPort), DATABASE_URL: db.url, NATS_PREFIX: prefix, LOG_LEVEL: 'info' });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
  });
  afterAll(async () => {
    await cp?.stop();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('serves Prometheus text on OPS_PORT, without a key', async () => {
    await fetch(`http://127.0.0.1:${port}/v1/links`); // a 401 to count
    const r = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await r.text();
    expect(text).toMatch(/\nlinkplane_http_requests_total\{method="GET",route="\/v1\/links",status="401"\} 1\n/);
    expect(text).toContain('\nprocess_resident_memory_bytes ');
  });

  it('the API port answers /metrics 404', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(404);
    expect(await r.text()).not.toContain('linkplane_http_requests_total');
  });

  it('/healthz and /readyz on OPS_PORT answer as on the API port; other paths and methods do not', async () => {
    const get = async (path: string, method = 'GET') => {
      const r = await fetch(`http://127.0.0.1:${opsPort}${path}`, { method });
      return { status: r.status, body: await r.text(), allow: r.headers.get('allow') };
    };
    expect(await get('/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(JSON.parse((await get('/readyz')).body)).toMatchObject({ status: 'ready', checks: { postgres: true, nats: true, jetstream: true } });
    expect(await get('/v1/links')).toMatchObject({ status: 404 });
    expect(await get('/metrics', 'POST')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
  });

  it('logs the bound operations port; OPS_PORT=0 picks a free one', async () => {
    expect(cp.logs().find((l) => l.msg === 'ops port listening (/metrics, /healthz, /readyz)')?.port).toBe(opsPort);
    const other = startProcess('control-plane/main.js', { PORT: String(await freePort()), OPS_PORT: '0', DATABASE_URL: db.url, NATS_PREFIX: prefix, LOG_LEVEL: 'info' });
    try {
      const line = await (async () => {
        for (let i = 0; i < 400; i++) {
          const l = other.logs().find((x) => x.msg === 'ops port listening (/metrics, /healthz, /readyz)');
          if (l) return l;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`no ops log line:\n${other.output.join('\n')}`);
      })();
      const free = line.port as number;
      expect(free).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${free}/metrics`)).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});
