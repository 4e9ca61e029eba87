/**
 * docs/webhooks.md must work as written: its curl block against a real control
 * plane (every call 2xx), and its Node and Python verification recipes against a real delivery
 * (signed by the dispatcher during a rotation overlap), accepting it and refusing tampering.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/index.js';
import {
  cleanupNatsPrefix, createTestDatabase, docBlocks, freePort, startProcess, testPrefix, waitFor, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';
import { createOpenApiValidator, recordingProxy, runBash, type Exchange } from './openapi-validator.js';
import { startWebhookWorkers, type WebhookWorkers } from '../webhooks/index.js';
import { createHarness, type Harness } from './harness.js';
import { emit, newWorkspace, startReceiver, type ReceivedRequest, type Receiver } from './webhooks-helpers.js';

/** The one block of `lang` in docs/webhooks.md (the curl tour, the Node recipe, the Python recipe). */
function block(lang: string): string {
  const blocks = docBlocks('docs/webhooks.md', lang, { min: 1 });
  expect(blocks.length, `docs/webhooks.md: one ${lang} block`).toBe(1);
  return blocks[0]!;
}

describe('docs/webhooks.md', () => {
  describe('curl block', () => {
    let db: TestDatabase;
    let cp: RunningProcess;
    let port: number;
    let proxy: { server: Server; port: number };
    const exchanges: Exchange[] = [];
    const prefix = testPrefix('whreadme');
    const key = 'lp_change_me_to_a_long_random_secret_0001';

    beforeAll(async () => {
      db = await createTestDatabase('whreadme');
      port = await freePort();
      cp = startProcess('control-plane/main.js', { PORT: String(port), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: key, DB_POOL_MAX: '6' });
      await waitForHttp(`http://127.0.0.1:${port}/readyz`);
      proxy = await recordingProxy(port, exchanges);
    });
    afterAll(async () => {
      await new Promise((resolve) => proxy.server.close(resolve));
      await cp.stop();
      await db.drop();
      await cleanupNatsPrefix(prefix).catch(() => undefined);
    });

    it('runs as written: every call answers 2xx', async () => {
      const script = block('sh');
      expect(script).toContain(`Bearer ${key}`);
      const cwd = mkdtempSync(join(tmpdir(), 'lp-wh-readme-'));
      const body = script.replace(/^API=.*$/m, `API=http://127.0.0.1:${proxy.port}`).replace(/^curl -s /gm, 'curl -s -w "\\n[%{http_code}]\\n" ');
      const r = await runBash(body, cwd);
      rmSync(cwd, { recursive: true, force: true });
      expect(r.status, r.stderr).toBe(0);
      const statuses = [...r.stdout.matchAll(/^\[(\d{3})\]$/gm)].map((x) => Number(x[1]));
      expect(statuses.length).toBeGreaterThanOrEqual(9);
      expect(statuses.filter((s) => s < 200 || s >= 300), r.stdout).toEqual([]);
      expect(r.stdout).toMatch(/"secret":"whsec_/);
      expect(r.stdout).toMatch(/"event_type":"webhook.ping"/);
    });

    it('every call and answer matches the OpenAPI document (issue 15)', async () => {
      const check = createOpenApiValidator(await (await fetch(`http://127.0.0.1:${port}/v1/openapi.json`)).json());
      expect(exchanges.length).toBeGreaterThanOrEqual(9);
      expect(exchanges.flatMap(check)).toEqual([]);
    });
  });

  describe('verification recipes, on a real delivery', () => {
    let h: Harness;
    let workers: WebhookWorkers;
    let rx: Receiver;
    let delivery: ReceivedRequest;
    let secrets: { id: string; secret: string }[];
    const dir = mkdtempSync(join(tmpdir(), 'lp-wh-recipes-'));

    beforeAll(async () => {
      h = await createHarness('wh_readme', { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' });
      workers = startWebhookWorkers({ pool: h.pool, config: h.config, log: createLogger({ name: 't', level: 'silent' }) });
      rx = await startReceiver();
      const ws = await newWorkspace(h, 'recipes');
      const ep = (await h.req({ method: 'POST', url: '/v1/webhooks/endpoints', key: ws.key, payload: { url: rx.url } })).json();
      const rot = (await h.req({ method: 'POST', url: `/v1/webhooks/endpoints/${ep.id}/secrets/rotate`, key: ws.key })).json();
      secrets = [{ id: ep.secret_key_id, secret: ep.secret }, { id: rot.secret_key_id, secret: rot.secret }];
      await emit(h, ws.workspaceId, 1, 'link.created', () => ({ id: 'ln_01J8YQ8F2Y8S4QH', path: 'spring-sale', note: 'ünï ✓' }));
      await waitFor('delivery', () => rx.requests.length === 1);
      delivery = rx.requests[0]!;
    });
    afterAll(async () => {
      await workers.stop();
      await rx.close();
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const now = () => Number(delivery.headers['webhook-timestamp']) + 5;
    const header = () => String(delivery.headers['x-signature']);

    it('Node: accepts with the old or the new secret, refuses tampering, a stale timestamp, an unknown key', async () => {
      const code = block('js').split('// Express wiring')[0]!.replace(/^import express from "express";$/m, '');
      const file = join(dir, 'verify.mjs');
      writeFileSync(file, code);
      const { verifyLinkplane } = (await import(pathToFileURL(file).href)) as {
        verifyLinkplane: (raw: Buffer, sig: string, secrets: Map<string, string>, now?: number) => { id: string; type: string; data: unknown };
      };
      for (const s of secrets) {
        const event = verifyLinkplane(delivery.body, header(), new Map([[s.id, s.secret]]), now());
        expect(event).toMatchObject({ id: String(delivery.headers['event-id']), type: 'link.created', data: { note: 'ünï ✓' } });
      }
      const both = new Map(secrets.map((s) => [s.id, s.secret]));
      const tampered = Buffer.from(delivery.body.toString().replace('spring-sale', 'spring-salE'));
      expect(() => verifyLinkplane(tampered, header(), both, now())).toThrow('invalid signature');
      expect(() => verifyLinkplane(delivery.body, header(), both, now() + 400)).toThrow('invalid signature');
      expect(() => verifyLinkplane(delivery.body, header(), new Map([['whk_OTHER', secrets[0]!.secret]]), now())).toThrow('invalid signature');
    });

    it('Python: accepts with the old or the new secret, refuses tampering and a stale timestamp', () => {
      const code = block('python').split('# Flask wiring')[0]!;
      const driver = `
import base64, json, sys
req = json.load(sys.stdin)
out = []
for case in req["cases"]:
    try:
        ev = verify_linkplane(base64.b64decode(case["body"]), req["header"], case["secrets"], case["now"])
        out.append(ev["id"])
    except ValueError as e:
        out.append(str(e))
print(json.dumps(out))
`;
      const file = join(dir, 'verify.py');
      writeFileSync(file, code + driver);
      const b64 = delivery.body.toString('base64');
      const tampered = Buffer.from(delivery.body.toString().replace('spring-sale', 'spring-salE')).toString('base64');
      const one = (s: { id: string; secret: string }) => ({ [s.id]: s.secret });
      const input = {
        header: header(),
        cases: [
          { body: b64, secrets: one(secrets[0]!), now: now() },
          { body: b64, secrets: one(secrets[1]!), now: now() },
          { body: tampered, secrets: { ...one(secrets[0]!), ...one(secrets[1]!) }, now: now() },
          { body: b64, secrets: one(secrets[0]!), now: now() + 400 },
        ],
      };
      const r = spawnSync('python3', [file], { input: JSON.stringify(input), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const id = String(delivery.headers['event-id']);
      expect(JSON.parse(r.stdout)).toEqual([id, id, 'invalid signature', 'invalid signature']);
    });
  });
});
