/**
 * docs/cli.md's session runs as written against a live stack, with `linkplane` being this CLI
 * (bundled once; the launcher itself is covered by cli.test.ts), in a fresh directory and config dir.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlocks } from '../../shared/testing/doc-blocks.js';
import { startLiveStack, type LiveStack } from '../../sdk/test/live-stack.js';
import { bundleCli } from './run-cli.js';

const [session] = docBlocks('docs/cli.md', 'sh', { section: 'A session', min: 1 }) as [string];

describe('docs/cli.md', () => {
  let stack: LiveStack;
  let bin: string;
  let dir: string;

  beforeAll(async () => {
    [stack, bin] = await Promise.all([startLiveStack('clidocs'), bundleCli()]);
    await stack.client().domains.create({ hostname: 'go.example.com' });
    dir = mkdtempSync(join(tmpdir(), 'lp-docs-cli-'));
  });
  afterAll(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await stack?.close();
  });

  it('the session runs as written', () => {
    const script = `set -e\nlinkplane() { node ${JSON.stringify(bin)} "$@"; }\n${session}`;
    const env = { ...process.env, API: stack.apiUrl, KEY: stack.adminKey, XDG_CONFIG_HOME: join(dir, 'config'), LINKPLANE_API_URL: '', LINKPLANE_API_KEY: '' };
    const r = spawnSync('bash', ['-c', script], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.split('\n');
    expect(out[0]).toMatch(new RegExp(`^Logged in to ${stack.apiUrl} as key `));
    expect(out[1]).toBe('http://go.example.com/spring → https://shop.example.com/spring');
    expect(r.stdout).toContain('index,external_id,code,field,message\n1,pim-2,invalid_url,destination_url,');
    expect(r.stdout).toMatch(/: 0 clicks, 0 visitors/);
    expect(statSync(join(dir, 'config', 'linkplane', 'config.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'spring.png'))).toBe(true);
  });
});

describe("README quick start: the CLI beside curl", () => {
  let stack: LiveStack;
  beforeAll(async () => {
    stack = await startLiveStack('clireadme');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('runs as written from the repository root (npx linkplane, no build) and both list the same link', async () => {
    const block = docBlocks('README.md', 'sh', { section: 'Quick start', min: 3 }).find((b) => b.includes('npx linkplane'));
    expect(block).toBeDefined();
    const link = await stack.client().links.create({ domain: stack.domain, path: 'spring', destination_url: 'https://example.com/spring', tags: ['spring'] });
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const r = spawnSync('bash', ['-c', `set -e\n${block}`], { cwd: root, env: { ...process.env, API: stack.apiUrl, KEY: stack.adminKey }, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    // curl's JSON (no newline at its end), then the CLI's table
    const at = r.stdout.search(/ID +SHORT_URL/);
    expect((JSON.parse(r.stdout.slice(0, at)) as { data: { id: string }[] }).data.map((l) => l.id)).toEqual([link.id]);
    const cliLines = r.stdout.slice(at).split('\n');
    expect(cliLines[1]).toBe(`${link.id}  http://${stack.domain}/spring  https://example.com/spring  spring`);
  });
});
