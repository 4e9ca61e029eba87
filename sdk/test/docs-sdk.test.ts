/**
 * docs/sdk.md runs as written: each ```ts block is written to a module and imported against a
 * live control plane (LINKPLANE_API_URL / LINKPLANE_API_KEY set, domain go.example.com made),
 * and what it prints and does is checked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { docBlocks } from '../../shared/testing/doc-blocks.js';
import { generateWebhookSecret, signWebhook } from '../../shared/index.js';
import { startLiveStack, type LiveStack } from './live-stack.js';

const blocks = docBlocks('docs/sdk.md', 'ts', { min: 5 });

describe('docs/sdk.md', () => {
  let stack: LiveStack;
  let dir: string;
  let logged: string[];
  const saved = { ...process.env };

  beforeAll(async () => {
    stack = await startLiveStack('sdkdocs');
    await stack.client().domains.create({ hostname: 'go.example.com' });
    process.env.LINKPLANE_API_URL = stack.apiUrl;
    process.env.LINKPLANE_API_KEY = stack.adminKey;
    dir = mkdtempSync(join(tmpdir(), 'lp-docs-sdk-'));
  });
  afterAll(async () => {
    process.env = saved;
    vi.restoreAllMocks();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await stack?.close();
  });

  /** Imports block `i` as a module and returns it, with what it printed with console.log. */
  async function run(i: number): Promise<Record<string, unknown>> {
    const file = join(dir, `block-${i}.ts`);
    writeFileSync(file, blocks[i]!);
    logged = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args.join(' ')));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } finally {
      spy.mockRestore();
      stderr.mockRestore();
    }
  }

  it('connect: creates with an idempotency key, iterates a list', async () => {
    await run(0);
    expect(logged).toEqual(['http://go.example.com/spring-sale', 'spring-sale https://shop.example.com/spring']);
    // the same block again (another module): the key returns the same link, nothing new
    writeFileSync(join(dir, 'again.ts'), blocks[0]!);
    await import(pathToFileURL(join(dir, 'again.ts')).href);
    expect(await stack.client().links.list({ tag: 'spring' }).toArray()).toHaveLength(1);
  });

  it('errors: a taken path is path_conflict with a request id; a missing link is a NotFoundError', async () => {
    await run(1);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatch(/^409 path_conflict: .+ \(request [0-9a-f-]{36}\)$/);
    expect(logged[1]).toBe('true');
  });

  it('bulk: a generated CSV uploads, waits, and lists the failed row', async () => {
    await run(2);
    expect(logged).toEqual(['\npartially_succeeded: 999 succeeded, 1 failed', 'row 500 (pim-500): invalid_url destination_url']);
  });

  it('webhooks: the fetch-style handler and the Node server verify real signatures', async () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ id: 'evt_doc', type: 'link.created', occurred_at: new Date().toISOString(), data: {}, attempt: 1 });
    const headers = signWebhook({ id: 'wh_doc', secret }, body) as Record<string, string>;

    const { webhookHandler } = (await run(3)) as { webhookHandler: (s: string[]) => (r: Request) => Promise<Response> };
    const handle = webhookHandler([secret]);
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args.join(' ')));
    const ok = await handle(new Request('http://x/hooks', { method: 'POST', body, headers }));
    const bad = await handle(new Request('http://x/hooks', { method: 'POST', body: body.replace('evt_doc', 'evt_forged'), headers }));
    spy.mockRestore();
    expect([ok.status, bad.status, await bad.text()]).toEqual([204, 401, 'signature_mismatch']);
    expect(logged).toEqual(['link.created evt_doc']);

    process.env.WEBHOOK_SECRET = secret;
    process.env.PORT = '0';
    const { server } = (await run(4)) as { server: Server };
    try {
      if (!server.listening) await new Promise((r) => server.once('listening', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const spy2 = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(args.join(' ')));
      const res = await fetch(url, { method: 'POST', body, headers });
      const forged = await fetch(url, { method: 'POST', body: body.replace('evt_doc', 'evt_forged'), headers });
      spy2.mockRestore();
      expect([res.status, forged.status]).toEqual([204, 401]);
      expect(logged).toEqual(['received link.created evt_doc']);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
