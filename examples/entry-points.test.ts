/**
 * Every recipe runs as its README says — `npx tsx examples/<recipe>/main.ts` with its settings in
 * the environment — against one live stack: each server starts and answers one real request, the
 * email rewriter rewrites stdin to stdout, the catalog import exits 0 with its report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT, waitFor } from '../shared/testing/index.js';
import { slackSignature } from './slack-shorten/slack-signature.js';
import { startLiveStack, type LiveStack } from './testing/live-stack.js';

const DOMAIN = 'go.entry.example.com';
const TSX = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const dir = mkdtempSync(join(tmpdir(), 'lp-entry-'));

let stack: LiveStack;
let env: Record<string, string>;
const children: ChildProcess[] = [];

/** Runs a recipe's `main.ts`; resolves with its exit code and output once it exits. */
function run(recipe: string, args: string[], extraEnv: Record<string, string>, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(TSX, [join('examples', recipe, 'main.ts'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env, ...extraEnv }, stdio: 'pipe' });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(stdin ?? '');
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Starts a server recipe on a free port and waits until it accepts connections. */
async function serve(recipe: string, extraEnv: Record<string, string>, args: string[] = []): Promise<string> {
  const port = await freePort();
  void run(recipe, args, { PORT: String(port), ...extraEnv });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${recipe} listening`, () => fetch(url, { method: 'OPTIONS' }).then(() => true, () => false), 90_000, 100);
  return url;
}

beforeAll(async () => {
  stack = await startLiveStack('entry');
  await stack.domain(DOMAIN);
  env = { LINKPLANE_API_URL: stack.apiUrl, LINKPLANE_API_KEY: await stack.key('publisher'), SHORT_DOMAIN: DOMAIN };
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('recipes run as their READMEs say', () => {
  it('email-rewriter: stdin → stdout, report on stderr', async () => {
    const r = await run('email-rewriter', ['--domain', DOMAIN, '--campaign-id', 'c1', '--utm-campaign', 'launch'], {},
      '<p><a href="https://www.example.com/a">A</a> <a href="mailto:x@example.com">mail</a></p>');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^<p><a href="https://${DOMAIN.replace(/\./g, '\\.')}/[0-9A-Za-z]{7,}">A</a> <a href="mailto:x@example.com">mail</a></p>$`));
    expect(r.stderr).toMatch(/^rewritten +https:\/\/www\.example\.com\/a → https:\/\/go\.entry\.example\.com\/\S+\nnot_http +mailto:x@example\.com\n$/);
  });

  it('catalog-upsert import: exits 0 with the job report', async () => {
    const file = join(dir, 'export.csv');
    writeFileSync(file, 'sku,title,category\n9001,Hat,hats\n');
    const r = await run('catalog-upsert', ['import', file, '--night', '2026-12-03'], { PRODUCT_URL: 'https://shop.example.com/p/{sku}', CAMPAIGN: 'c' });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 'succeeded', counts: { total: 1, succeeded: 1, failed: 0, pending: 0 }, failed: [] });
  });

  it('the servers start and answer', async () => {
    const [cms, slack, ga4, jobs, edge] = await Promise.all([
      serve('cms-publish-hook', { SITE_URL: 'https://www.example.com', CMS_HOOK_TOKEN: 'tok' }),
      serve('slack-shorten', { SLACK_SIGNING_SECRET: 'sss' }),
      serve('ga4-forwarder', { LINKPLANE_WEBHOOK_SECRETS: 'whsec_x', GA4_MEASUREMENT_ID: 'G-X', GA4_API_SECRET: 's' }),
      serve('catalog-upsert', { LINKPLANE_WEBHOOK_SECRETS: 'whsec_x' }, ['receive']),
      serve('edge-form', { LINKPLANE_DOMAIN: DOMAIN }),
    ]);
    const published = await fetch(`${cms}/cms/published`, {
      method: 'POST', headers: { authorization: 'Bearer tok' },
      body: JSON.stringify({ id: '1', slug: 'hello', title: 'Hello', author: 'a', category: 'c' }),
    });
    expect(await published.json()).toMatchObject({ action: 'created', short_url: `https://${DOMAIN}/hello` });

    const body = new URLSearchParams({ team_id: 'T1', user_id: 'U1', text: 'https://www.example.com/s slack-hello' }).toString();
    const ts = String(Math.floor(Date.now() / 1000));
    const slackRes = await fetch(`${slack}/slack/shorten`, { method: 'POST', headers: { 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature('sss', ts, body) }, body });
    expect(await slackRes.json()).toEqual({ response_type: 'ephemeral', text: `Here you go: https://${DOMAIN}/slack-hello → https://www.example.com/s` });

    for (const url of [ga4, jobs]) expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(400); // unsigned

    const edgeRes = await fetch(edge, { method: 'POST', headers: { accept: 'application/json' }, body: new URLSearchParams({ url: 'https://www.example.com/e' }) });
    expect(edgeRes.status).toBe(201);
    expect(await edgeRes.json()).toMatchObject({ short_url: expect.stringMatching(`^https://${DOMAIN}/`) });
  }, 120_000); // five processes starting at once on a loaded machine
});
