/** docs/governance.md's curl example must work when pasted: run it against a real control plane. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, createTestDatabase, freePort, REPO_ROOT, startProcess, testPrefix, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';
import { runBash } from './openapi-validator.js';

describe('docs/governance.md example', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let port: number;
  const prefix = testPrefix('govdoc');
  const script = /```sh\n([\s\S]*?)```/.exec(readFileSync(join(REPO_ROOT, 'docs/governance.md'), 'utf8'))![1]!;
  const key = /Bearer (\S+?)"/.exec(script)![1]!;

  beforeAll(async () => {
    db = await createTestDatabase('gov_doc');
    port = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
  });
  afterAll(async () => {
    await cp?.stop();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('runs as written: the JWT reads links, the audit shows the client, a workspace is made, the JWKS is served', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lp-gov-doc-'));
    const body = script.replace(/^API=.*$/m, `API=http://127.0.0.1:${port}`).replace(/^curl -s /gm, 'curl -s -w "\\n[%{http_code}]\\n" ');
    const r = await runBash(body, cwd);
    rmSync(cwd, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    expect([...r.stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1])), r.stdout).toEqual([200, 200, 201, 200]);
    expect(r.stdout).toContain('"action":"oauth_client.create"');
    expect(r.stdout).toContain('"name":"acme"');
    expect(r.stdout).toContain('"kty":"EC"');
  });
});
