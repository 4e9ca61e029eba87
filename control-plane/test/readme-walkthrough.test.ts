/**
 * The getting-started walk-through (docs/getting-started.md) must work when pasted: its curl block
 * against a real control plane, through a recording proxy, every call and answer checked against
 * the OpenAPI document; then its node block against a real redirect node, and the analytics block
 * of docs/clicks-and-analytics.md on the click that made. Bash runs them with `set -u`, so a block
 * that uses a variable nothing set fails here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupNatsPrefix, createTestDatabase, docBlocks, freePort, startProcess, TEST_NATS_URL, testPrefix, waitFor, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';
import { request, startTestNode, type TestNode } from '../../data-plane/test/harness.js';
import { createOpenApiValidator, recordingProxy, runBash, type Exchange } from './openapi-validator.js';

const [walkthrough, nodeBlock] = docBlocks('docs/getting-started.md', 'sh', { section: 'API walk-through', min: 2 }) as [string, string];
const [analytics] = docBlocks('docs/clicks-and-analytics.md', 'sh', { section: 'Analytics', min: 1 }) as [string];

/** Points a block at this test's processes; each top-level curl also prints its status code. */
function rewire(block: string, apiPort: number): string {
  return block
    .replace(/^API=.*$/m, `API=http://127.0.0.1:${apiPort}`)
    .replace(/^curl -s /gm, 'curl -s -w "\\n[%{http_code}]\\n" ');
}
const statusesOf = (stdout: string) => [...stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1]));

describe('docs: the getting-started walk-through, a node, the analytics block', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let node: TestNode;
  let port: number;
  let proxy: { server: Server; port: number };
  const exchanges: Exchange[] = [];
  const prefix = testPrefix('readme');
  const key = /^KEY=(\S+)$/m.exec(walkthrough)![1]!;
  const cwd = mkdtempSync(join(tmpdir(), 'lp-readme-'));
  const api = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${key}` } });

  beforeAll(async () => {
    db = await createTestDatabase('readme');
    port = await freePort();
    cp = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key });
    node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { CLICK_FLUSH_MS: '50' } });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`);
    proxy = await recordingProxy(port, exchanges);
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy.server.close(resolve));
    await node?.destroy();
    await cp?.stop();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('the walk-through runs as written: every call answers 2xx', async () => {
    const r = await runBash(rewire(walkthrough, proxy.port), cwd);
    expect(r.status, r.stderr).toBe(0);
    const statuses = statusesOf(r.stdout);
    expect(statuses.length).toBe(8); // LINK=$(curl …) prints none
    expect(r.stdout).toMatch(/"path":"spring-2026"/);
    expect(statuses.filter((s) => s < 200 || s >= 300), r.stdout).toEqual([]);
  });

  it('the node block runs as written on what the walk-through left (issue 15: it used to follow the link step 6 deleted)', async () => {
    // HEAD: not a click, so the node block's visit is the link's only click
    const visit = async (path: string) => (await request(node.port, { host: 'go.example.com', path, method: 'HEAD' })).status;
    await waitFor('the node has the walk-through\'s links', async () => (await visit('/app')) === 302 && (await visit('/spring-2026')) === 404, 20_000, 50);
    const r = await runBash(nodeBlock.replace(/^NODE=.*$/m, `NODE=${node.url('')}`), cwd);
    expect(r.status, r.stderr).toBe(0);
    const [deleted, ...answer] = r.stdout.split('\n');
    expect(deleted).toBe('404');
    expect(answer[0]).toMatch(/^HTTP\/1\.1 302 /);
    expect(answer.find((l) => /^location:/i.test(l))?.trim()).toBe('Location: https://apps.apple.com/app/id1?utm_source=golinks');
  });

  it('the analytics block runs as written: it sets LINK_ID itself and shows the click the node block made (issue 15: $LINK_ID was never set)', async () => {
    const links = await (await api('/v1/links?domain=go.example.com&q=app')).json() as { data: { id: string; path: string }[] };
    const app = links.data.find((l) => l.path === 'app')!;
    await waitFor('the click is stored', async () => {
      const clicks = await (await api(`/v1/links/${app.id}/clicks`)).json() as { data: unknown[] };
      return clicks.data.length === 1;
    }, 20_000, 100);
    const r = await runBash(rewire(analytics, proxy.port), cwd);
    expect(r.status, r.stderr).toBe(0);
    const statuses = statusesOf(r.stdout);
    expect(statuses.length).toBe(4); // the CSV export's goes into clicks.csv
    expect(statuses.filter((s) => s < 200 || s >= 300), r.stdout).toEqual([]);
    expect(r.stdout.split('\n')[0]).toBe(app.id);
    type Stats = { totals: { clicks: number } };
    const [last30, november, workspace, clicks] = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) as [Stats, Stats, Stats, { data: { os: string; destination: string }[] }];
    expect([last30.totals.clicks, november.totals.clicks, workspace.totals.clicks]).toEqual([1, 0, 1]);
    expect(clicks.data.map((c) => [c.os, c.destination])).toEqual([['ios', 'https://apps.apple.com/app/id1?utm_source=golinks']]);
    const csv = readFileSync(join(cwd, 'clicks.csv'), 'utf8').trim().split('\n');
    expect(csv.at(-1)).toBe('[200]');
    expect(csv.slice(1, -1).filter(Boolean).map((l) => l.includes(',ios,'))).toEqual([true]);
  });

  it('every call and answer matches the OpenAPI document (issue 15)', async () => {
    const check = createOpenApiValidator(await (await fetch(`http://127.0.0.1:${port}/v1/openapi.json`)).json());
    expect(exchanges.length).toBe(15); // 9 from the walk-through, 6 from the analytics block
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
