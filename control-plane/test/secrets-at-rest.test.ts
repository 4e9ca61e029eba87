/**
 * Secrets at rest (issue 12): after creating keys, webhook endpoints (and a rotation) and jobs with
 * callback secrets — with Idempotency-Keys, replays and recovers — and letting deliveries and
 * callbacks go out, no text/json/jsonb/bytea/text[] column of any table holds an `lp_…`, `whsec_…`
 * or callback secret in clear. The columns whose job is to hold secrets hold only sealed values
 * (`lpsec1.…`) or hashes, and sealing round-trips: receivers verify the signatures. Then: plaintext
 * rows from before sealing and rows under an old key are re-sealed under SECRETS_KEY by a starting
 * control plane, and one holding no key for a stored secret refuses to start, naming the key id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '@linkplane/sdk';
import { createLogger } from '../../shared/index.js';
import { startProcess, TEST_SECRETS_KEY, waitFor, waitForHttp, freePort } from '../../shared/testing/index.js';
import type { JobWorkers } from '../jobs/index.js';
import { keyIdOf, openStored, resealSecrets, secretBoxFrom } from '../secrets/index.js';
import { startWebhookWorkers, type WebhookWorkers } from '../webhooks/index.js';
import { ADMIN_SECRET, createDomain, createHarness, type Harness } from './harness.js';
import { startWorkers, waitForJob } from './jobs-helpers.js';
import { startReceiver, type Receiver } from './webhooks-helpers.js';

const SEALED = /^lpsec1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** The columns whose job is to hold a secret: sealed values only. */
const SECRET_COLUMNS = new Set(['webhook_secrets.secret', 'jobs.callback_secret', 'jwt_signing_keys.private_jwk']);
const K2 = Buffer.alloc(32, 0x42).toString('base64');
const K3 = Buffer.alloc(32, 0x43).toString('base64');

interface Column {
  table: string;
  column: string;
  type: string;
}

/** Every text-like column (text, varchar, char, json, jsonb, bytea, text[]) of every table of the schema. */
async function textColumns(h: Harness): Promise<Column[]> {
  const { rows } = await h.pool.query<{ table_name: string; column_name: string; udt_name: string }>(
    `SELECT c.table_name, c.column_name, c.udt_name
     FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
       AND c.udt_name IN ('text', 'varchar', 'bpchar', 'json', 'jsonb', 'bytea', '_text', '_varchar')
     ORDER BY 1, 2`,
  );
  return rows.map((r) => ({ table: r.table_name, column: r.column_name, type: r.udt_name }));
}

describe('no secret in clear in any column', () => {
  let h: Harness;
  let receiver: Receiver;
  let webhooks: WebhookWorkers;
  let jobs: JobWorkers;
  const domain = 'go.secrets.example.com';
  const plain: { label: string; value: string }[] = [];
  const remember = (label: string, value: unknown) => {
    expect(typeof value, label).toBe('string');
    plain.push({ label, value: value as string });
    return value as string;
  };

  beforeAll(async () => {
    h = await createHarness('secrets_at_rest', { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '20' });
    await createDomain(h, domain);
    receiver = await startReceiver();
    const log = createLogger({ name: 'test-secrets', level: 'silent' });
    webhooks = startWebhookWorkers({ pool: h.pool, config: h.config, log });
    jobs = startWorkers(h);
    remember('bootstrap admin key', ADMIN_SECRET);
  });
  afterAll(async () => {
    await jobs?.stop();
    await webhooks?.stop();
    await receiver?.close();
    await h?.close();
  });

  it('after keys, endpoints, a rotation and jobs with callbacks: clear nowhere, sealed where they live', async () => {
    const post = (url: string, payload: unknown, idem?: string) =>
      h.req({ method: 'POST', url, headers: idem ? { 'idempotency-key': idem } : {}, payload: payload as Record<string, unknown> });

    // API keys: plain, with an Idempotency-Key (replayed and recovered), domain-limited
    remember('key', (await post('/v1/keys', { name: 'plain', role: 'publisher' })).json().secret);
    remember('key (idempotent)', (await post('/v1/keys', { name: 'idem', role: 'admin' }, 'k-1')).json().secret);
    await post('/v1/keys', { name: 'idem', role: 'admin' }, 'k-1');
    await h.req({ method: 'POST', url: '/v1/idempotency/recover', payload: { key: 'k-1' } });
    remember('key (limited)', (await post('/v1/keys', { name: 'limited', role: 'publisher', domains: [domain] })).json().secret);

    // webhook endpoints, one created with an Idempotency-Key, one rotated (twice, once replayed)
    const ep1 = (await post('/v1/webhooks/endpoints', { url: `${receiver.url}/a` }, 'ep-1')).json();
    remember('endpoint secret', ep1.secret);
    await post('/v1/webhooks/endpoints', { url: `${receiver.url}/a` }, 'ep-1');
    const ep2 = (await post('/v1/webhooks/endpoints', { url: `${receiver.url}/b` })).json();
    remember('endpoint secret 2', ep2.secret);
    const rot = (await post(`/v1/webhooks/endpoints/${ep2.id}/secrets/rotate`, {}, 'rot-1')).json();
    remember('rotated secret', rot.secret);
    await post(`/v1/webhooks/endpoints/${ep2.id}/secrets/rotate`, {}, 'rot-1');
    remember('rotated secret 2', (await post(`/v1/webhooks/endpoints/${ep2.id}/secrets/rotate`, { overlap_hours: 0 })).json().secret);

    // jobs with callbacks: header Idempotency-Key (replayed), body idempotency_key (re-posted)
    const job = (idem: Record<string, string>, body: Record<string, unknown>) =>
      h.req({ method: 'POST', url: '/v1/links/bulk', headers: { 'content-type': 'application/json', ...idem }, payload: JSON.stringify(body) });
    const j1body = { operation: 'create', items: [{ domain, path: 'job-1', destination_url: 'https://example.org/1' }], callback_url: `${receiver.url}/cb1` };
    const j1 = (await job({ 'idempotency-key': 'job-1' }, j1body)).json();
    remember('callback secret', j1.callback_secret);
    await job({ 'idempotency-key': 'job-1' }, j1body);
    const j2body = { operation: 'create', items: [{ domain, path: 'job-2', destination_url: 'https://example.org/2' }], callback_url: `${receiver.url}/cb2`, idempotency_key: 'job-2' };
    const j2 = (await job({}, j2body)).json();
    remember('callback secret 2', j2.callback_secret);
    await job({}, j2body);

    // let everything go out: a ping to each endpoint, both jobs and their callbacks
    await post(`/v1/webhooks/endpoints/${ep1.id}/test`, {});
    await post(`/v1/webhooks/endpoints/${ep2.id}/test`, {});
    await waitForJob(h, j1.job_id);
    await waitForJob(h, j2.job_id);
    await waitFor('callbacks and pings received', () => {
      const got = receiver.requests.map((r) => `${r.path} ${String(r.headers['event-type'])}`);
      return ['/a webhook.ping', '/b webhook.ping', '/cb1 job.succeeded', '/cb2 job.succeeded'].every((p) => got.some((g) => g.endsWith(p))) ? true : null;
    }, 20_000, 50);

    // sealing round-trips: each receiver verifies with the secret it was shown
    const type = (p: string) => (p.startsWith('/cb') ? 'job.succeeded' : 'webhook.ping');
    const byPath = (p: string) => receiver.requests.find((r) => r.path.endsWith(p) && r.headers['event-type'] === type(p))!;
    const headers = (p: string) => byPath(p).headers as Record<string, string>;
    expect(await verifyWebhook(byPath('/a').body, headers('/a'), { id: ep1.secret_key_id, secret: ep1.secret })).toMatchObject({ type: 'webhook.ping' });
    const last = plain.find((p) => p.label === 'rotated secret 2')!.value;
    const lastKid = (await h.pool.query<{ id: string }>(`SELECT id FROM webhook_secrets WHERE endpoint_id = $1 ORDER BY created_at DESC LIMIT 1`, [ep2.id])).rows[0]!.id;
    expect(await verifyWebhook(byPath('/b').body, headers('/b'), { id: lastKid, secret: last })).toMatchObject({ type: 'webhook.ping' });
    expect(await verifyWebhook(byPath('/cb1').body, headers('/cb1'), { id: j1.job_id, secret: j1.callback_secret })).toMatchObject({ type: 'job.succeeded' });
    expect(await verifyWebhook(byPath('/cb2').body, headers('/cb2'), { id: j2.job_id, secret: j2.callback_secret })).toMatchObject({ type: 'job.succeeded' });

    // the scan
    const columns = await textColumns(h);
    expect(columns.map((c) => `${c.table}.${c.column}`)).toEqual(expect.arrayContaining(['idempotency_keys.response_body', 'webhook_secrets.secret', 'jobs.callback_secret', 'audit_log.changes', 'events.data']));
    const found: string[] = [];
    let scanned = 0;
    let sealedSeen = 0;
    for (const c of columns) {
      const { rows } = await h.pool.query<{ v: string | Buffer | string[] }>(`SELECT "${c.column}" AS v FROM "${c.table}" WHERE "${c.column}" IS NOT NULL`);
      for (const r of rows) {
        scanned++;
        const text = Buffer.isBuffer(r.v) ? r.v.toString('latin1') : typeof r.v === 'string' ? r.v : JSON.stringify(r.v);
        const where = `${c.table}.${c.column}`;
        if (SECRET_COLUMNS.has(where)) {
          expect(text, where).toMatch(SEALED);
          sealedSeen++;
        }
        for (const p of plain) if (text.includes(p.value)) found.push(`${where}: ${p.label}`);
        if (/lp_[A-Za-z0-9]{40}/.test(text)) found.push(`${where}: an lp_ key`);
        if (/whsec_[A-Za-z0-9+/]{20}/.test(text)) found.push(`${where}: a whsec_ secret`);
      }
    }
    expect(found).toEqual([]);
    expect(scanned).toBeGreaterThan(100);
    // 2 endpoints: 1 + 3 secrets; 2 jobs with callbacks
    expect(sealedSeen).toBe(6);
    // api keys are kept as hashes only
    const keys = await h.pool.query<{ secret_hash: Buffer; prefix: string }>('SELECT secret_hash, prefix FROM api_keys');
    expect(keys.rows.every((k) => k.secret_hash.length === 32 && k.prefix.length < 12)).toBe(true);
  });

  it('a starting control plane seals plaintext rows (from before sealing) and re-seals old-key rows under SECRETS_KEY', async () => {
    const box = secretBoxFrom({ SECRETS_KEY: TEST_SECRETS_KEY });
    // rows as an older version wrote them: in clear
    const legacy = await h.pool.query<{ id: string; secret: string }>(`SELECT id, secret FROM webhook_secrets ORDER BY id LIMIT 2`);
    const clear = new Map<string, string>();
    for (const r of legacy.rows) {
      const s = openStored(box, r.secret, `webhook_secrets:${r.id}`);
      clear.set(`webhook_secrets:${r.id}`, s);
      await h.pool.query(`UPDATE webhook_secrets SET secret = $2 WHERE id = $1`, [r.id, s]);
    }
    const legacyJob = (await h.pool.query<{ id: string; callback_secret: string }>(`SELECT id, callback_secret FROM jobs WHERE callback_secret IS NOT NULL ORDER BY id LIMIT 1`)).rows[0]!;
    const jobSecret = openStored(box, legacyJob.callback_secret, `jobs:${legacyJob.id}`);
    await h.pool.query(`UPDATE jobs SET callback_secret = $2 WHERE id = $1`, [legacyJob.id, jobSecret]);
    clear.set(`jobs:${legacyJob.id}`, jobSecret);
    const all = async () => [
      ...(await h.pool.query<{ ctx: string; v: string }>(`SELECT 'webhook_secrets:' || id AS ctx, secret AS v FROM webhook_secrets`)).rows,
      ...(await h.pool.query<{ ctx: string; v: string }>(`SELECT 'jobs:' || id AS ctx, callback_secret AS v FROM jobs WHERE callback_secret IS NOT NULL`)).rows,
    ];
    const before = new Map((await all()).map((r) => [r.ctx, openStored(box, r.v, r.ctx)]));
    expect(before.size).toBe(6);

    // a control plane started with a new SECRETS_KEY and the old one in SECRETS_KEYS_OLD
    const port = await freePort();
    const cp = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: h.db.url, NATS_PREFIX: h.prefix, SECRETS_KEY: K2, SECRETS_KEYS_OLD: TEST_SECRETS_KEY, JOB_WORKERS: '0', WEBHOOK_WORKERS: '0',
    });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, 200, 60_000);
    } finally {
      await cp.stop();
    }
    expect(cp.logs().find((l) => l.msg === 'stored secrets sealed under SECRETS_KEY')).toMatchObject({ resealed: { webhook_secrets: 4, jobs: 2 }, kid: keyIdOf(Buffer.from(K2, 'base64')) });
    const box2 = secretBoxFrom({ SECRETS_KEY: K2 });
    const after = await all();
    for (const r of after) {
      expect(r.v.startsWith(box2.currentPrefix), r.ctx).toBe(true);
      expect(box2.open(r.v, r.ctx)).toBe(before.get(r.ctx));
    }
    for (const [ctx, s] of clear) expect(before.get(ctx)).toBe(s);
    // nothing left to do for the next one
    expect(await resealSecrets(h.pool, secretBoxFrom({ SECRETS_KEY: K2 }))).toEqual({ resealed: { webhook_secrets: 0, jobs: 0, jwt_signing_keys: 0 }, failed: [] });
  });

  it('a control plane whose keys open no stored secret refuses to start, naming the key id', async () => {
    const cp = startProcess('control-plane/main.js', { PORT: String(await freePort()), DATABASE_URL: h.db.url, NATS_PREFIX: h.prefix, SECRETS_KEY: K3, JOB_WORKERS: '0', WEBHOOK_WORKERS: '0' });
    const { code } = await cp.exited;
    expect(code).toBe(1);
    const out = cp.output.join('\n');
    expect(out).toContain('6 stored secret(s) do not open with SECRETS_KEY or SECRETS_KEYS_OLD (add the key they were sealed under to SECRETS_KEYS_OLD)');
    expect(out).toContain(`sealed under key id ${keyIdOf(Buffer.from(K2, 'base64'))}, which neither SECRETS_KEY nor SECRETS_KEYS_OLD holds`);
  });

  it('without a valid SECRETS_KEY the control plane does not start, and says so in one sentence', async () => {
    for (const [value, message] of [
      ['', 'SECRETS_KEY is required: 32 random bytes, base64-encoded, that seal webhook and callback secrets at rest (generate one with: openssl rand -base64 32)'],
      ['change-me-openssl-rand-base64-32', 'SECRETS_KEY must be 32 random bytes, base64-encoded (generate one with: openssl rand -base64 32)'],
    ] as const) {
      const cp = startProcess('control-plane/main.js', { PORT: String(await freePort()), DATABASE_URL: h.db.url, NATS_PREFIX: h.prefix, SECRETS_KEY: value });
      const { code } = await cp.exited;
      expect(code).toBe(1);
      expect(cp.output.join('\n')).toContain(message);
    }
  });
});
