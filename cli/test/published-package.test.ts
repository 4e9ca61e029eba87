/**
 * The CLI as a user gets it from the registry: `npm pack` of @linkplane/sdk and @linkplane/cli
 * (their prepack builds dist/), installed into an empty project, and its `linkplane` bin run against
 * a live stack — the compiled path, not the repository's tsx path the other CLI tests take.
 * The packing happens in a copy of the two packages, so the repository never gets a dist/ that
 * would change how `npx linkplane` runs here.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveStack, type LiveStack } from '../../sdk/test/live-stack.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the published @linkplane/cli package', () => {
  let stack: LiveStack;
  let work: string;
  let bin: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lp-pub-'));
    const repo = join(work, 'repo');
    mkdirSync(repo);
    for (const part of ['sdk', 'cli']) {
      cpSync(join(ROOT, part), join(repo, part), { recursive: true, filter: (src) => !/\/(dist|test)$/.test(src) });
    }
    cpSync(join(ROOT, 'tsconfig.json'), join(repo, 'tsconfig.json'));
    // the repository's packages, except that @linkplane/sdk is the copy (the CLI builds against its dist/)
    const modules = join(repo, 'node_modules');
    mkdirSync(join(modules, '@linkplane'), { recursive: true });
    for (const name of readdirSync(join(ROOT, 'node_modules'))) {
      if (name !== '@linkplane' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
    }
    symlinkSync(join(repo, 'sdk'), join(modules, '@linkplane', 'sdk'));
    const packs = join(work, 'packs');
    mkdirSync(packs);
    const [started] = await Promise.all([
      startLiveStack('pubcli'),
      (async () => {
        await run('npm', ['pack', '--silent', '--pack-destination', packs], { cwd: join(repo, 'sdk') });
        await run('npm', ['pack', '--silent', '--pack-destination', packs], { cwd: join(repo, 'cli') });
        const user = join(work, 'user');
        mkdirSync(user);
        writeFileSync(join(user, 'package.json'), '{"name":"user","private":true}\n');
        await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline',
          join(packs, 'linkplane-sdk-0.1.0.tgz'), join(packs, 'linkplane-cli-0.1.0.tgz')], { cwd: user });
        bin = join(user, 'node_modules', '.bin', 'linkplane');
      })(),
    ]);
    stack = started;
  }, 240_000);

  afterAll(async () => {
    await stack?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs from its tarballs and runs its compiled bin against the API', async () => {
    const env = { ...process.env, LINKPLANE_API_URL: stack.apiUrl, LINKPLANE_API_KEY: stack.adminKey, XDG_CONFIG_HOME: join(work, 'config') };
    expect((await run(bin, ['--version'], { env })).stdout).toBe('0.1.0\n');
    const created = JSON.parse((await run(bin, ['--json', 'links', 'create', 'https://example.com/published', '--domain', stack.domain, '--path', 'published'], { env })).stdout) as { id: string; short_url: string };
    expect(created.short_url).toBe(`http://${stack.domain}/published`);
    const got = JSON.parse((await run(bin, ['--json', 'links', 'get', created.id], { env })).stdout) as { destination_url: string };
    expect(got.destination_url).toBe('https://example.com/published');
  });
});
