/**
 * The `linkplane` CLI against a live stack (real control-plane process, Postgres, NATS), run as
 * a real process the way `npx linkplane` runs it: login (mode 600), links, QR, bulk import with
 * progress under a pseudo-terminal (and none when stderr is not a terminal), jobs, webhooks,
 * stats with a bar chart, keys, --json and the documented exit codes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook, type Link } from '@linkplane/sdk';
import { makeClicks, publishClicks } from '../../control-plane/test/click-fixtures.js';
import { waitFor } from '../../shared/testing/index.js';
import { startLiveStack, type LiveStack } from '../../sdk/test/live-stack.js';
import { EXIT } from '../src/exit-codes.js';
import { BIN, bundleCli, runCli, runCliInTty } from './run-cli.js';

describe('linkplane CLI against a live stack', () => {
  let stack: LiveStack;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    [stack] = await Promise.all([startLiveStack('cli'), bundleCli()]);
    home = mkdtempSync(join(tmpdir(), 'lp-cli-'));
    // a config dir of its own; the API from the environment unless a test says otherwise
    env = { XDG_CONFIG_HOME: join(home, 'config'), LINKPLANE_API_URL: stack.apiUrl, LINKPLANE_API_KEY: stack.adminKey };
  });
  afterAll(async () => {
    await stack?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  const cli = (args: string[], extra: Record<string, string | undefined> = {}, input?: string) => runCli(args, { ...env, ...extra }, { input });
  const json = async <T>(args: string[]): Promise<T> => {
    const r = await cli(['--json', ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  it('login checks the key, stores URL and key mode 600, and later commands use them', async () => {
    const noEnv = { LINKPLANE_API_URL: undefined, LINKPLANE_API_KEY: undefined, XDG_CONFIG_HOME: join(home, 'login') };
    const before = await cli(['links', 'list'], noEnv);
    expect([before.code, before.stderr.trim()]).toEqual([EXIT.notConfigured, 'linkplane: no API URL or key: run `linkplane login`, or set LINKPLANE_API_URL and LINKPLANE_API_KEY']);

    const bad = await cli(['login', '--api-url', stack.apiUrl], noEnv, 'lp_wrong_key_0123456789abcdef\n');
    expect(bad.code).toBe(EXIT.auth);
    expect(() => statSync(join(home, 'login', 'linkplane', 'config.json'))).toThrow();

    const ok = await cli(['login', '--api-url', stack.apiUrl], noEnv, `${stack.adminKey}\n`);
    expect(ok.code).toBe(0);
    const file = join(home, 'login', 'linkplane', 'config.json');
    expect(ok.stdout).toMatch(new RegExp(`^Logged in to ${stack.apiUrl} as key .+ \\(key_[0-9A-Z]{26}, admin\\); saved in ${file}\\n$`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'login', 'linkplane')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ apiUrl: stack.apiUrl, apiKey: stack.adminKey });

    const after = await cli(['--json', 'links', 'list'], noEnv);
    expect([after.code, after.stderr]).toEqual([0, '']);
    // the environment overrides the stored login: a dead URL is unreachable (exit 7)
    const dead = await cli(['links', 'list'], { ...noEnv, LINKPLANE_API_URL: 'http://127.0.0.1:9' });
    expect(dead.code).toBe(EXIT.unavailable);
    expect(dead.stderr).toMatch(/^linkplane: GET \/v1\/links: fetch failed \(network_error\)/);
  });

  it('links create, get, list, update, qr, delete; --json prints the API resource', async () => {
    const link = await json<Link>(['links', 'create', 'https://example.com/spring', '--domain', stack.domain, '--path', 'spring', '--tag', 'cli', '--tag', 'spring']);
    expect(link).toMatchObject({ domain: stack.domain, path: 'spring', destination_url: 'https://example.com/spring', tags: ['cli', 'spring'], short_url: `http://${stack.domain}/spring` });
    expect(await json<Link>(['links', 'get', link.id])).toEqual(link);

    const human = await cli(['links', 'get', link.id]);
    expect(human.stdout).toBe(`http://${stack.domain}/spring → https://example.com/spring\nid ${link.id}  version 1  live  tags cli,spring\n`);

    const list = await cli(['links', 'list', '--tag', 'cli']);
    expect(list.stdout.split('\n')[0]).toMatch(/^ID\s+SHORT_URL\s+DESTINATION_URL\s+TAGS$/);
    expect(list.stdout).toContain(`${link.id}  http://${stack.domain}/spring  https://example.com/spring  cli,spring`);

    const updated = await json<Link>(['links', 'update', link.id, '--destination', 'https://example.com/summer', '--disable']);
    expect(updated).toMatchObject({ destination_url: 'https://example.com/summer', disabled: true, version: 2 });

    const png = join(home, 'qr.png');
    const qr = await cli(['links', 'qr', link.id, '--out', png]);
    expect(qr.code).toBe(0);
    expect([...readFileSync(png).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

    const deleted = await cli(['links', 'delete', link.id]);
    expect(deleted.stdout).toBe(`deleted ${link.id} (http://${stack.domain}/spring)\n`);
    const gone = await cli(['--json', 'links', 'get', link.id]);
    expect(gone.code).toBe(EXIT.notFound);
    expect(gone.stdout).toBe('');
    expect(JSON.parse(gone.stderr)).toMatchObject({ error: { status: 404, code: 'link_not_found' }, exit_code: EXIT.notFound });
  });

  it('refusals and usage errors have their exit codes', async () => {
    const refused = await cli(['links', 'create', 'javascript:alert(1)', '--domain', stack.domain]);
    expect(refused.code).toBe(EXIT.refused);
    expect(refused.stderr).toMatch(/\(invalid_url; field destination_url, request [0-9a-f-]{36}\)\n$/);
    expect((await cli(['links', 'create'])).code).toBe(EXIT.usage);
    expect((await cli(['nope'])).code).toBe(EXIT.usage);
    expect((await cli(['--version'])).stdout).toBe('0.1.0\n');
  });

  it('the launcher npx runs (no build: TypeScript through tsx) works from the repository root', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const version = await runCli(['--version'], env, { bin: BIN, cwd: root });
    expect([version.code, version.stdout, version.stderr]).toEqual([0, '0.1.0\n', '']);
    const list = await runCli(['--json', 'links', 'list', '--limit', '1'], env, { bin: BIN, cwd: root });
    expect([list.code, list.stderr]).toEqual([0, '']);
    expect(Array.isArray(JSON.parse(list.stdout))).toBe(true);
  });

  it('jobs import: no progress when stderr is not a terminal; failed items → exit 8 and jobs errors --csv', async () => {
    const file = join(home, 'catalog.csv');
    const rows = ['domain,path,destination_url,external_id'];
    for (let i = 0; i < 50; i++) rows.push(`${stack.domain},sku-${i},${i === 7 || i === 31 ? 'not a url' : `https://shop.example.com/p/${i}`},pim-${i}`);
    writeFileSync(file, rows.join('\n') + '\n');
    const r = await cli(['jobs', 'import', file, '--interval', '100']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.jobFailed);
    const m = /^job (job_[0-9A-Z]{26}) partially_succeeded: 48 of 50 items succeeded, 2 failed in \d+\.\d s\nfailed items: linkplane jobs errors \1 --csv\n$/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    const errors = await cli(['jobs', 'errors', m![1]!, '--csv']);
    expect(errors.code).toBe(0);
    const lines = errors.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('index,external_id,code,field,message');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['7,pim-7,invalid_url,destination_url', '31,pim-31,invalid_url,destination_url']);
    const watched = await cli(['--json', 'jobs', 'watch', m![1]!]);
    expect(watched.code).toBe(EXIT.jobFailed);
    expect(JSON.parse(watched.stdout)).toMatchObject({ id: m![1], status: 'partially_succeeded', counts: { total: 50, succeeded: 48, failed: 2, pending: 0 } });
  });

  it('jobs import under a pseudo-terminal draws the upload and the job progress (items/s, ETA, errors) on stderr', async () => {
    const file = join(home, 'tty.csv');
    const rows = ['domain,path,destination_url'];
    for (let i = 0; i < 3000; i++) rows.push(`${stack.domain},tty-${i},${i % 1000 === 5 ? 'bad' : `https://shop.example.com/t/${i}`}`);
    writeFileSync(file, rows.join('\n') + '\n');
    const r = await runCliInTty(['jobs', 'import', file, '--interval', '100'], env);
    expect(r.code).toBe(EXIT.jobFailed);
    // eslint-disable-next-line no-control-regex -- terminal escape sequences are what is stripped
    const screen = r.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(screen).toMatch(/upload +[█░]+ 100% \| \d+\.\d MiB of \d+\.\d MiB/);
    expect(screen).toMatch(/processing [█░]+ 100% \| 3000\/3000 items \| \d+ items\/s \| ETA \d+s \| errors 3 \| partially_succeeded/);
    expect(screen).toMatch(/job job_[0-9A-Z]{26} partially_succeeded: 2997 of 3000 items succeeded, 3 failed/);
  });

  it('webhooks endpoints, deliveries and replay; the receiver verifies each delivery with the SDK', async () => {
    const got: string[] = [];
    let secret = '';
    const server: Server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      try {
        const event = await verifyWebhook(Buffer.concat(chunks), req.headers, secret);
        got.push(event.type);
        res.statusCode = 204;
      } catch {
        res.statusCode = 401;
      }
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
      const endpoint = await stack.client().webhooks.endpoints.create({ url, events: ['link.created'] });
      secret = endpoint.secret!;
      const listed = await json<{ id: string; url: string }[]>(['webhooks', 'endpoints']);
      expect(listed.map((e) => [e.id, e.url])).toEqual([[endpoint.id, url]]);
      const sent = await stack.client().webhooks.endpoints.test(endpoint.id);
      await waitFor('test delivery', () => got.length === 1, 15_000);
      const deliveries = await json<{ id: string; status: string }[]>(['webhooks', 'deliveries', '--endpoint', endpoint.id]);
      expect(deliveries.map((d) => d.id)).toEqual([sent.id]);
      const replay = await cli(['webhooks', 'replay', sent.id]);
      expect(replay.code).toBe(0);
      expect(replay.stdout).toMatch(new RegExp(`^delivery ${sent.id} queued again \\(${sent.event_type} → endpoint ${endpoint.id}, status \\w+\\)\\n$`));
      await waitFor('replayed delivery', () => got.length === 2, 15_000);
      expect(got).toEqual([sent.event_type, sent.event_type]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('stats --by country draws a bar chart of real ingested clicks', async () => {
    const link = await stack.client().links.create({ domain: stack.domain, path: 'stats', destination_url: 'https://example.com/s' });
    const db = new pg.Client({ connectionString: stack.db.url });
    await db.connect();
    const { rows } = await db.query<{ workspace_id: string }>('SELECT workspace_id FROM links WHERE id = $1', [link.id]);
    await db.end();
    const clicks = makeClicks(60, [{ id: link.id, workspaceId: rows[0]!.workspace_id, domain: stack.domain, path: 'stats' }], { start: Date.now() - 3_600_000, spacingMs: 1000, visitors: 60 })
      .map((c) => ({ ...c, bot: false, deviceClass: 'mobile' }));
    const nc = await connect({ servers: '127.0.0.1:4222' });
    await publishClicks(nc, stack.prefix, clicks);
    await nc.close();
    const want = new Map<string, number>();
    for (const c of clicks) want.set(c.country ?? '(unknown)', (want.get(c.country ?? '(unknown)') ?? 0) + 1);
    await waitFor('clicks ingested', async () => (await stack.client().links.stats(link.id)).totals.clicks === 60, 20_000, 200);

    const r = await cli(['stats', link.id, '--by', 'country', '--width', '20']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${link.id}: 60 clicks, \\d+ visitors \\(.+ → .+\\)$`));
    expect(lines[1]).toMatch(/^per day: [▁▂▃▄▅▆▇█]+$/);
    expect(lines[3]).toBe('by country:');
    const bars = lines.slice(4).map((l) => /^(\S+(?: \S+)?)\s+│(█*[▏▎▍▌▋▊▉]?)\s* (\d+)$/.exec(l));
    expect(bars.every(Boolean), r.stdout).toBe(true);
    expect(new Map(bars.map((b) => [b![1]!, Number(b![3])]))).toEqual(want);
    const top = Math.max(...want.values());
    // the largest group fills the width
    expect(bars.find((b) => Number(b![3]) === top)![2]).toBe('█'.repeat(20));
  });

  it('keys create (secret shown once), list, revoke', async () => {
    const created = await json<{ id: string; secret: string; role: string }>(['keys', 'create', '--name', 'ci', '--role', 'publisher']);
    expect(created.role).toBe('publisher');
    expect(created.secret).toMatch(/^lp_/);
    const listed = await json<{ id: string; name: string }[]>(['keys', 'list']);
    expect(listed.find((k) => k.id === created.id)?.name).toBe('ci');
    // the new key works, then is revoked and refused
    expect((await cli(['links', 'list'], { LINKPLANE_API_KEY: created.secret })).code).toBe(0);
    const revoked = await cli(['keys', 'revoke', created.id]);
    expect(revoked.stdout).toBe(`revoked ${created.id} (ci)\n`);
    expect((await cli(['links', 'list'], { LINKPLANE_API_KEY: created.secret })).code).toBe(EXIT.auth);
  });
});
