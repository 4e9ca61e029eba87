/**
 * Secrets are never stored readable in a replayable body (issue 12): the response that creates a
 * secret shows it once; a replay, a recover or a re-post of the same job answers with the secret
 * fields null and `redacted` naming them, and the stored record holds no secret.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsDir } from '../db/migrate.js';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('replays and recovers of secret-bearing responses are redacted', () => {
  let h: Harness;
  const domain = 'go.redact.example.com';

  const post = (url: string, idem: string, payload: unknown) => h.req({ method: 'POST', url, headers: { 'idempotency-key': idem }, payload: payload as Record<string, unknown> });
  const recover = (idem: string) => h.req({ method: 'POST', url: '/v1/idempotency/recover', payload: { key: idem } });
  const storedBody = async (idem: string) =>
    (await h.pool.query<{ response_body: string }>(`SELECT response_body FROM idempotency_keys WHERE idem_key = $1`, [idem])).rows[0]!.response_body;

  beforeAll(async () => {
    h = await createHarness('idempotency_redaction', { WEBHOOK_ALLOW_PRIVATE: 'true' });
    await createDomain(h, domain);
  });
  afterAll(async () => {
    await h.close();
  });

  it('key creation: the secret once, then null with redacted: ["secret"]', async () => {
    const first = await post('/v1/keys', 'redact-key', { name: 'ci', role: 'publisher' });
    expect(first.statusCode).toBe(201);
    const made = first.json<Record<string, unknown> & { secret: string }>();
    expect(made.secret).toMatch(/^lp_/);
    expect(made.redacted).toBeUndefined();
    const want = { ...made, secret: null, redacted: ['secret'] };

    const replay = await post('/v1/keys', 'redact-key', { name: 'ci', role: 'publisher' });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual(want);

    const rec = await recover('redact-key');
    expect(rec.json().response).toEqual({ status: 201, headers: { 'content-type': 'application/json; charset=utf-8' }, body: want });
    expect(await storedBody('redact-key')).not.toContain(made.secret);
    // the key made by the first request works, and only one was made
    expect((await h.req({ method: 'GET', url: '/v1/links', key: made.secret })).statusCode).toBe(200);
    expect((await h.pool.query(`SELECT 1 FROM api_keys WHERE name = 'ci'`)).rowCount).toBe(1);
  });

  it('webhook endpoint creation and secret rotation: the whsec_ once, then redacted', async () => {
    const first = await post('/v1/webhooks/endpoints', 'redact-ep', { url: 'http://127.0.0.1:9/hook' });
    expect(first.statusCode).toBe(201);
    const ep = first.json<Record<string, unknown> & { id: string; secret: string; secret_key_id: string }>();
    expect(ep.secret).toMatch(/^whsec_/);
    const replay = await post('/v1/webhooks/endpoints', 'redact-ep', { url: 'http://127.0.0.1:9/hook' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers.location).toBe(`/v1/webhooks/endpoints/${ep.id}`);
    expect(replay.json()).toEqual({ ...ep, secret: null, redacted: ['secret'] });
    expect((await recover('redact-ep')).json().response.body).toEqual({ ...ep, secret: null, redacted: ['secret'] });
    expect(await storedBody('redact-ep')).not.toContain(ep.secret);

    const rot = await post(`/v1/webhooks/endpoints/${ep.id}/secrets/rotate`, 'redact-rot', {});
    expect(rot.statusCode).toBe(200);
    const rotated = rot.json<Record<string, unknown> & { secret: string; secret_key_id: string }>();
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(ep.secret);
    const again = await post(`/v1/webhooks/endpoints/${ep.id}/secrets/rotate`, 'redact-rot', {});
    expect(again.json()).toEqual({ ...rotated, secret: null, redacted: ['secret'] });
    expect(again.json().secret_key_id).toBe(rotated.secret_key_id);
    expect((await recover('redact-rot')).json().response.body).toEqual({ ...rotated, secret: null, redacted: ['secret'] });
    expect(await storedBody('redact-rot')).not.toContain(rotated.secret);
  });

  it('bulk job with a callback: the callback_secret once; replay, recover and re-post redact it', async () => {
    const body = JSON.stringify({ operation: 'create', items: [{ domain, destination_url: 'https://example.org/j' }], callback_url: 'http://127.0.0.1:9/cb', idempotency_key: 'job-redact' });
    const send = (headers: Record<string, string> = {}) =>
      h.req({ method: 'POST', url: '/v1/links/bulk', headers: { 'content-type': 'application/json', ...headers }, payload: body });
    const first = await send({ 'idempotency-key': 'redact-job' });
    expect(first.statusCode, first.body).toBe(202);
    const accepted = first.json<{ job_id: string; job: unknown; callback_secret: string; redacted?: string[] }>();
    expect(accepted.callback_secret).toMatch(/^whsec_/);
    expect(accepted.redacted).toBeUndefined();
    const replay = await send({ 'idempotency-key': 'redact-job' });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json()).toEqual({ ...accepted, callback_secret: null, redacted: ['callback_secret'] });
    expect((await recover('redact-job')).json().response.body).toEqual({ ...accepted, callback_secret: null, redacted: ['callback_secret'] });
    expect(await storedBody('redact-job')).not.toContain(accepted.callback_secret);
    // the same job posted again by its body idempotency_key alone (no header): same job, secret redacted
    const repost = await send();
    expect(repost.statusCode).toBe(202);
    expect(repost.json()).toMatchObject({ job_id: accepted.job_id, callback_secret: null, redacted: ['callback_secret'] });
  });

  it('migration 003 redacts responses stored in clear before this change', async () => {
    const keyId = (await h.pool.query<{ id: string }>(`SELECT id FROM api_keys ORDER BY created_at LIMIT 1`)).rows[0]!.id;
    const rows: [string, string, number, Record<string, unknown>][] = [
      ['old-key', '/v1/keys', 201, { id: 'key_1', name: 'n', secret: 'lp_' + 'a'.repeat(40) }],
      ['old-ep', '/v1/webhooks/endpoints', 201, { id: 'whe_1', secret: 'whsec_old', secret_key_id: 'whk_1' }],
      ['old-rot', '/v1/webhooks/endpoints/whe_1/secrets/rotate', 200, { id: 'whe_1', secret: 'whsec_rot', secret_key_id: 'whk_2' }],
      ['old-job', '/v1/links/bulk?operation=create', 202, { job_id: 'job_1', job: { id: 'job_1' }, callback_secret: 'whsec_cb' }],
      ['old-link', '/v1/links', 201, { id: 'lnk_1', metadata: { secret: 'mine' } }],
      ['old-nocb', '/v1/links/bulk', 202, { job_id: 'job_2', job: { id: 'job_2' } }],
    ];
    for (const [key, path, status, body] of rows) {
      await h.pool.query(
        `INSERT INTO idempotency_keys (workspace_id, idem_key, api_key_id, method, path, request_hash, state, response_status, response_headers, response_body)
         SELECT workspace_id, $1, id, 'POST', $2, '\\x00', 'completed', $3, '{}', $4 FROM api_keys WHERE id = $5`,
        [key, path, status, JSON.stringify(body), keyId],
      );
    }
    await h.pool.query(readFileSync(join(migrationsDir(), '003_redact_stored_secrets.sql'), 'utf8'));
    const stored = async (k: string) => JSON.parse(await storedBody(k)) as Record<string, unknown>;
    expect(await stored('old-key')).toEqual({ id: 'key_1', name: 'n', secret: null, redacted: ['secret'] });
    expect(await stored('old-ep')).toEqual({ id: 'whe_1', secret: null, secret_key_id: 'whk_1', redacted: ['secret'] });
    expect(await stored('old-rot')).toEqual({ id: 'whe_1', secret: null, secret_key_id: 'whk_2', redacted: ['secret'] });
    expect(await stored('old-job')).toEqual({ job_id: 'job_1', job: { id: 'job_1' }, callback_secret: null, redacted: ['callback_secret'] });
    expect(await stored('old-link')).toEqual({ id: 'lnk_1', metadata: { secret: 'mine' } });
    expect(await stored('old-nocb')).toEqual({ job_id: 'job_2', job: { id: 'job_2' } });
    // and what this change stores already is left as is
    expect(await storedBody('redact-key')).toContain('"redacted":["secret"]');
  });

  it('a job without a callback has nothing to redact', async () => {
    const payload = JSON.stringify({ operation: 'create', items: [{ domain, destination_url: 'https://example.org/n' }] });
    const send = () => h.req({ method: 'POST', url: '/v1/links/bulk', headers: { 'content-type': 'application/json', 'idempotency-key': 'redact-none' }, payload });
    const first = await send();
    const replay = await send();
    expect(first.json().callback_secret).toBeUndefined();
    expect(replay.body).toBe(first.body);
  });
});
