/** The README's curl walk-through must work when pasted: run it against a real control plane. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, createTestDatabase, freePort, REPO_ROOT, startProcess, testPrefix, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';

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
  const prefix = testPrefix('readme');
  const script = walkthrough();
  const key = /^KEY=(\S+)$/m.exec(script)![1]!;

  beforeAll(async () => {
    db = await createTestDatabase('readme');
    port = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
  });
  afterAll(async () => {
    await cp.stop();
    await db.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('runs as written: every call answers 2xx', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lp-readme-'));
    // same script, pointed at this test's port; each top-level curl also prints its status code
    const body = script
      .replace(/^API=.*$/m, `API=http://127.0.0.1:${port}`)
      .replace(/^curl -s /gm, 'curl -s -w "\\n[%{http_code}]\\n" ');
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', body], { cwd, encoding: 'utf8' });
    rmSync(cwd, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const statuses = [...r.stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1]));
    expect(statuses.length).toBeGreaterThanOrEqual(8);
    expect(r.stdout).toMatch(/"path":"spring-2026"/);
    expect(statuses.filter((s) => s < 200 || s >= 300), r.stdout).toEqual([]);
  });
});
