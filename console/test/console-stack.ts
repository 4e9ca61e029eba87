/**
 * The admin console against real parts: a control plane process (dist/, serving dist/ui built by the
 * global setup), its own database and NATS prefix, a redirect node when asked, and one headless
 * Debian Chromium driven by playwright-core. Screenshots go to test-output/console/ (git-ignored).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestControlPlane, startTestNode, type TestControlPlane, type TestNode } from '../../data-plane/test/harness.js';
import { cleanupNatsPrefix, createTestDatabase, REPO_ROOT, TEST_NATS_URL, testPrefix, type TestDatabase } from '../../shared/testing/index.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = join(REPO_ROOT, 'test-output', 'console');

export interface ConsoleStack {
  cp: TestControlPlane;
  db: TestDatabase;
  /** The NATS prefix of this stack (streams, buckets). */
  prefix: string;
  node: TestNode | null;
  adminKey: string;
  /** http://127.0.0.1:<port> of the control plane. */
  api: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Errors the page logged (script errors, CSP violations). */
  errors: string[];
  /** A key of `role` made by the admin key; returns its secret. */
  key(role: string, extra?: Record<string, unknown>): Promise<string>;
  /** Opens the console and signs in with `key`; waits for the first page. */
  signIn(key: string): Promise<void>;
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startConsoleStack(label: string, opts: { node?: boolean; cpEnv?: Record<string, string>; viewport?: { width: number; height: number } } = {}): Promise<ConsoleStack> {
  const db: TestDatabase = await createTestDatabase(label);
  const prefix = testPrefix(label);
  const adminKey = `lp_console_${label}_admin_0123456789abcdef`;
  // the three start at once: Chromium's launch is the slowest part on a loaded machine
  const [cp, browser] = await Promise.all([
    startTestControlPlane({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, key: adminKey, env: { WEBHOOK_ALLOW_PRIVATE: 'true', JOB_POLL_MS: '50', ...opts.cpEnv } }),
    chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] }),
  ]);
  const node = opts.node ? await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { TRUSTED_PROXIES: '127.0.0.1', WORKERS: '1', CLICK_FLUSH_MS: '50' } }) : null;
  const api = `http://127.0.0.1:${cp.port}`;
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 }, baseURL: api });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: api });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const problems: string[] = [];
  // script errors and CSP refusals; an API answer of 4xx (a refused key) is the page working as meant
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  mkdirSync(SHOTS, { recursive: true });
  return {
    cp,
    db,
    prefix,
    node,
    adminKey,
    api,
    browser,
    context,
    page,
    errors: problems,
    async key(role, extra = {}) {
      const r = await cp.call('POST', '/v1/keys', { name: `${role} (console test)`, role, ...extra });
      if (r.status !== 201) throw new Error(`key: ${r.status} ${JSON.stringify(r.json)}`);
      return String(r.json.secret);
    },
    async signIn(key) {
      await page.goto('/ui/');
      await page.getByLabel('API key', { exact: true }).fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
    },
    async shot(name) {
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close().catch(() => undefined);
      await node?.destroy();
      await cp.stop();
      await cleanupNatsPrefix(prefix).catch(() => undefined);
      await db.drop();
      // CSP violations and script errors show up here; a test may assert on them
      if (problems.length && process.env.LP_TEST_ECHO) process.stderr.write(`browser console errors:\n${problems.join('\n')}\n`);
    },
  };
}

/** axe-core's browser bundle (the npm package's axe.min.js). */
let axeSource: string | null = null;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (WCAG 2.0/2.1 A and AA rules, plus best practices) on the page as it is and returns
 * its serious and critical violations. The console's CSP (script-src 'self') refuses an inline
 * <script> (so page.addScriptTag({ content }) cannot load axe); the source is evaluated through
 * the DevTools protocol instead, which CSP does not govern, and nothing of the page's policy is relaxed.
 */
export async function axeViolations(page: Page, opts: { exclude?: string[] } = {}): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(axeSource);
  const options = { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] };
  const context = opts.exclude?.length ? { exclude: opts.exclude.map((e) => [e]) } : null;
  const found = (await page.evaluate(`axe.run(${context ? JSON.stringify(context) : 'document'}, ${JSON.stringify(options)})
    .then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })))`)) as AxeViolation[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
