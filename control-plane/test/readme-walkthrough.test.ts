/**
 * The README's curl walk-through must work when pasted: run it against a real control plane,
 * through a recording proxy, and check every call and answer against the OpenAPI document.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, createTestDatabase, freePort, REPO_ROOT, startProcess, testPrefix, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';
import { createOpenApiValidator, recordingProxy, runBash, type Exchange } from './openapi-validator.js';

function walkthrough(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## API walk-through'));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('no sh block in the API walk-through');
  return m[1]!;
}

describe('README API walk-through', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let port: number;
  let proxy: { server: Server; port: number };
  const exchanges: Exchange[] = [];
  const prefix = testPrefix('readme');
  const script = walkthrough();
  const key = /^KEY=(\S+)$/m.exec(script)![1]!;

  beforeAll(async () => {
    db = await createTestDatabase('readme');
    port = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    proxy = await recordingProxy(port, exchanges);
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.server.close(resolve));
    await cp.stop();
    await db.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('runs as written: every call answers 2xx', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lp-readme-'));
    // same script, pointed at this test's proxy; each top-level curl also prints its status code
    const body = script
      .replace(/^API=.*$/m, `API=http://127.0.0.1:${proxy.port}`)
      .replace(/^curl -s /gm, 'curl -s -w "\\n[%{http_code}]\\n" ');
    const r = await runBash(body, cwd);
    rmSync(cwd, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const statuses = [...r.stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1]));
    expect(statuses.length).toBeGreaterThanOrEqual(8);
    expect(r.stdout).toMatch(/"path":"spring-2026"/);
    expect(statuses.filter((s) => s < 200 || s >= 300), r.stdout).toEqual([]);
  });

  it('every call and answer matches the OpenAPI document (issue 15)', async () => {
    const check = createOpenApiValidator(await (await fetch(`http://127.0.0.1:${port}/v1/openapi.json`)).json());
    expect(exchanges.length).toBeGreaterThanOrEqual(8);
    expect(exchanges.flatMap(check)).toEqual([]);
    // and the validator does reject what the document does not allow
    const created = exchanges.find((x) => x.method === 'POST' && x.url === '/v1/links' && x.status === 201)!;
    const link = JSON.parse(created.resBody.toString('utf8')) as Record<string, unknown>;
    expect(check({ ...created, resBody: Buffer.from(JSON.stringify({ ...link, redirect_status: 303 })) })).toEqual([
      'POST /v1/links → 201: response body: /redirect_status must be equal to one of the allowed values',
    ]);
    expect(check({ ...created, url: '/v1/links?bogus=1', status: 418 })).toEqual([
      'POST /v1/links?bogus=1: undocumented query parameter bogus',
      'POST /v1/links?bogus=1: status 418 not documented',
    ]);
  });
});
