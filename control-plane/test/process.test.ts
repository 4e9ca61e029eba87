import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';

async function countLinks(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query(`SELECT count(*) AS n FROM links WHERE path LIKE 'drain-%'`);
  await c.end();
  return Number(rows[0].n);
}
import { LOG_LEVELS, type LogLevelLabel } from '../../shared/index.js';
import { cleanupNatsPrefix, createTestDatabase, freePort, startProcess, testPrefix, waitForHttp, type TestDatabase } from '../../shared/testing/index.js';

describe('the control-plane process', () => {
  let db: TestDatabase;
  const prefix = testPrefix('cpproc');
  beforeAll(async () => {
    db = await createTestDatabase('cp_process');
  });
  afterAll(async () => {
    await db.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('refuses bad configuration, listing every problem, exit 1', async () => {
    const p = startProcess('control-plane/main.js', { PORT: 'eighty', DATABASE_URL: 'not a url', SHORT_URL_SCHEME: 'ftp', RATE_LIMIT_PER_SEC: '-1', BOOTSTRAP_ADMIN_KEY: 'short' });
    const { code } = await p.exited;
    expect(code).toBe(1);
    const out = p.output.join('\n');
    for (const problem of ['PORT="eighty" is not an integer', 'DATABASE_URL="not a url" is not a URL', 'SHORT_URL_SCHEME="ftp" must be one of http, https',
      'RATE_LIMIT_PER_SEC="-1" is below 0.001', 'BOOTSTRAP_ADMIN_KEY=<redacted> must match']) {
      expect(out).toContain(problem);
    }
    expect(out).not.toContain('short');
  });

  it('bootstraps an admin key, serves, answers probes and metrics, drains on SIGTERM and exits 0', async () => {
    const port = await freePort();
    const opsPort = await freePort();
    const key = 'lp_bootstrap_secret_for_process_test_0001';
    const p = startProcess('control-plane/main.js', { PORT: String(port), OPS_PORT: String(opsPort), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/readyz`);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({
      status: 'ready',
      checks: { postgres: true, nats: true, jetstream: true },
      details: {
        jetstream: { placed: true, problems: [] },
        outbox: { depth: 0, oldest_age_seconds: 0, relay: { leader: true, publishing: 'ok', last_error: null, last_success_age_seconds: expect.any(Number) } },
      },
    });
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    expect((await fetch(`${base}/v1/domains`, { method: 'POST', headers: auth, body: JSON.stringify({ hostname: 'go.proc.example.com' }) })).status).toBe(201);
    const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metrics).toMatch(/linkplane_http_requests_total\{method="POST",route="\/v1\/domains",status="201"\} 1/);
    expect(metrics).toContain('linkplane_http_request_duration_seconds_bucket');

    // a request in flight when SIGTERM arrives still gets its answer
    const inflight = Array.from({ length: 20 }, (_, i) =>
      fetch(`${base}/v1/links`, { method: 'POST', headers: auth, body: JSON.stringify({ domain: 'go.proc.example.com', path: `drain-${i}`, destination_url: 'https://example.org/' }) }).then((r) => r.status),
    );
    await new Promise((r) => setTimeout(r, 5));
    p.signal('SIGTERM');
    const statuses = await Promise.all(inflight.map((x) => x.catch(() => 0)));
    const { code } = await p.exited;
    expect(code, p.output.slice(-15).join('\n')).toBe(0);
    // every request either completed (201) or was refused whole (503 while closing, or connection refused = 0)
    expect(statuses.every((s) => s === 201 || s === 503 || s === 0)).toBe(true);
    const stored = await countLinks(db.url);
    expect(stored).toBe(statuses.filter((s) => s === 201).length);
    const logs = p.logs();
    expect(logs.some((l) => l.msg === 'stopped')).toBe(true);
    // levels are pino's labels, never numbers: request lines are info, every line a known label
    expect(logs.length).toBeGreaterThan(20);
    expect(logs.filter((l) => !LOG_LEVELS.includes(l.level as LogLevelLabel))).toEqual([]);
    expect(logs.find((l) => l.msg === 'stopped')?.level).toBe('info');
    expect(logs.find((l) => l.msg === 'request completed')?.level).toBe('info');
    expect(p.output.join('\n')).not.toContain(key);

    // the key survives a restart; BOOTSTRAP_ADMIN_KEY is ignored once keys exist
    const again = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: 'lp_another_bootstrap_secret_000000000' });
    await waitForHttp(`${base}/readyz`);
    expect((await fetch(`${base}/v1/links`, { headers: auth })).status).toBe(200);
    expect((await fetch(`${base}/v1/links`, { headers: { authorization: 'Bearer lp_another_bootstrap_secret_000000000' } })).status).toBe(401);
    expect((await again.stop()).code).toBe(0);
  });
});
