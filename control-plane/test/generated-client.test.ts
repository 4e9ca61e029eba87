/**
 * A client generated from the document needs no `@ts-expect-error` for any documented call (issue
 * 15): openapi-typescript turns the live `GET /v1/openapi.json` of a real control-plane process into
 * types in a temp dir; generated-client/usage.ts — every documented operation, called with
 * openapi-fetch the way a user would — is type-checked against them by tsc (strict, no
 * `@ts-expect-error`, no `any`), compiled, and run against the same process (real Postgres, NATS,
 * webhook dispatcher, job worker), each answer at its expected status.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, createTestDatabase, freePort, REPO_ROOT, startProcess, testPrefix, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';
import { startReceiver, type Receiver } from './webhooks-helpers.js';

const KEY = 'lp_generated_client_test_admin_key_00001';
const USAGE = join(REPO_ROOT, 'control-plane/test/generated-client/usage.ts');

/** What each call answers in usage.ts's order of events. */
const EXPECTED: Record<string, number> = {
  getCurrentKey: 200, createKey: 201, listKeys: 200, revokeKey: 200,
  createDomain: 201, getDomain: 200, updateDomain: 200, listDomains: 200, deleteDomain: 200,
  createLink: 201, getLink: 200, updateLink: 200, listLinks: 200, getLinkQrCode: 200, recoverIdempotentResponse: 200,
  getLinkStats: 200, getWorkspaceStats: 200, listLinkClicks: 200,
  createBulkJob: 202, getJob: 200, listJobs: 200, listJobErrors: 200, getJobResults: 200, cancelJob: 409,
  listWebhookEventTypes: 200, createWebhookEndpoint: 201, getWebhookEndpoint: 200, updateWebhookEndpoint: 200, listWebhookEndpoints: 200,
  rotateWebhookSecret: 200, testWebhookEndpoint: 202, getWebhookDelivery: 200, listWebhookDeliveries: 200, replayWebhookDelivery: 202,
  replayWebhookEndpoint: 202, deleteWebhookEndpoint: 200,
  getPolicy: 200, putPolicy: 200, getDomainPolicy: 200, putDomainPolicy: 200, checkPolicy: 200, approveLink: 409, rejectLink: 409,
  deleteLink: 200, listAuditEntries: 200, createWorkspace: 201, getWorkspace: 200, listWorkspaces: 200,
  listAuditEntriesDeprecated: 200, createOAuthClient: 201, listOAuthClients: 200, issueOAuthToken: 200, getJwks: 200, revokeOAuthClient: 200,
};

/** Operations usage.ts does not call (none): a newly documented operation fails this test until usage.ts calls it. */
const NOT_YET_CALLED: string[] = [];

describe('a client generated from the OpenAPI document', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let receiver: Receiver;
  let base: string;
  let dir: string;
  const prefix = testPrefix('genclient');

  beforeAll(async () => {
    db = await createTestDatabase('generated_client');
    receiver = await startReceiver();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    cp = startProcess('control-plane/main.js', {
      PORT: String(port), OPS_PORT: String(await freePort()), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY,
      WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50', JOB_POLL_MS: '50',
    });
    await waitForHttp(`${base}/readyz`, 200, 60_000);
    dir = mkdtempSync(join(tmpdir(), 'lp-generated-client-'));
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  }, 90_000);

  afterAll(async () => {
    await cp?.stop();
    await receiver?.close();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('usage.ts has no @ts-expect-error, @ts-ignore or any', () => {
    const src = readFileSync(USAGE, 'utf8');
    expect(src).not.toMatch(/@ts-(expect-error|ignore|nocheck)|\bany\b/);
  });

  it('type-checks against types generated from the live document, and every documented call answers as expected', async () => {
    const spec = await (await fetch(`${base}/v1/openapi.json`)).json() as OpenAPI3;
    const doc = spec as unknown as { paths: Record<string, Record<string, { operationId?: string }>> };
    writeFileSync(join(dir, 'schema.ts'), astToString(await openapiTS(spec)));
    copyFileSync(USAGE, join(dir, 'usage.ts'));

    const program = ts.createProgram([join(dir, 'usage.ts')], {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true, noUncheckedIndexedAccess: true, skipLibCheck: true, types: ['node'], outDir: join(dir, 'out'), rootDir: dir,
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) =>
      `${d.file ? `${d.file.fileName.replace(dir, '')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1} ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(diagnostics).toEqual([]);
    expect(program.emit().emitSkipped).toBe(false);

    const operations = Object.values(doc.paths).flatMap((p) => Object.values(p).map((o) => o.operationId)).filter((o): o is string => !!o);
    const { run } = await import(pathToFileURL(join(dir, 'out', 'usage.js')).href) as { run: (ctx: { baseUrl: string; key: string; receiverUrl: string; tag: string }) => Promise<Record<string, number>> };
    const statuses = await run({ baseUrl: base, key: KEY, receiverUrl: receiver.url, tag: prefix.toLowerCase().replace(/[^a-z0-9]/g, '') });
    // every documented operation is called (but the OAuth ones that landed after usage.ts, listed in
    // NOT_YET_CALLED), and this test knows what each answers
    const uncovered = operations.filter((o) => !(o in statuses)).sort();
    expect(uncovered).toEqual([...NOT_YET_CALLED].sort());
    expect(Object.keys(statuses).sort()).toEqual(operations.filter((o) => !NOT_YET_CALLED.includes(o)).sort());
    expect(statuses).toEqual(EXPECTED);
  }, 120_000);
});
