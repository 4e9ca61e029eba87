/** The bulk-jobs example of docs/bulk-jobs.md must work when pasted: run it against a real control plane. */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupNatsPrefix, createTestDatabase, docBlocks, freePort, startProcess, testPrefix, waitFor, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';
import { createOpenApiValidator, recordingProxy, runBash, type Exchange } from './openapi-validator.js';

const [example] = docBlocks('docs/bulk-jobs.md', 'sh', { min: 1 }) as [string];

describe('docs/bulk-jobs.md example', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let port: number;
  let proxy: { server: Server; port: number };
  const exchanges: Exchange[] = [];
  const prefix = testPrefix('readmebulk');
  const script = example;
  const key = /Bearer (\S+?)"/.exec(script)![1]!;

  beforeAll(async () => {
    db = await createTestDatabase('readme_bulk');
    port = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key, JOB_POLL_MS: '50' });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    proxy = await recordingProxy(port, exchanges);
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.server.close(resolve));
    await cp.stop();
    await db.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('runs as written: every call answers 2xx and the CSV job ends with 2 links and 1 error', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'lp-readme-bulk-'));
    const body = script
      .replace(/^API=.*$/m, `API=http://127.0.0.1:${proxy.port}`)
      .replace(/^(JOB=\$\()?curl -s /gm, (_m, job: string | undefined) => `${job ?? ''}curl -s ${job ? '' : '-w "\\n[%{http_code}]\\n" '}`);
    const r = await runBash(body, cwd);
    rmSync(cwd, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const statuses = [...r.stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1]));
    expect(statuses.length).toBe(6);
    expect(statuses.filter((s) => s < 200 || s >= 300), r.stdout).toEqual([]);
    const jobId = /"job_id":"(job_[0-9A-Z]+)"/.exec(r.stdout)![1]!;
    const job = await waitFor('job finished', async () => {
      const j = await (await fetch(`http://127.0.0.1:${port}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${key}` } })).json() as { status: string; counts: unknown };
      return j.status === 'partially_succeeded' ? j : null;
    }, 20_000, 100);
    expect(job.counts).toEqual({ total: 3, succeeded: 2, failed: 1, pending: 0 });
  });

  it('every call and answer matches the OpenAPI document (issue 15)', async () => {
    const check = createOpenApiValidator(await (await fetch(`http://127.0.0.1:${port}/v1/openapi.json`)).json());
    expect(exchanges.length).toBe(7); // the 6 printed calls and JOB=$(curl …)
    expect(exchanges.flatMap(check)).toEqual([]);
  });
});
