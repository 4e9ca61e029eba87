/** API keys: optional expires_at (401 key_expired after it) and last_used_at written in batches (issue 16). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LastUsed } from '../keys/last-used.js';
import { createHarness, type Harness } from './harness.js';

interface KeyBody { id: string; secret: string; expires_at: string | null; last_used_at: string | null; error?: { code: string; details: Record<string, unknown> } }

describe('API key expiry and last use', () => {
  let h: Harness;
  const create = async (payload: Record<string, unknown>, key?: string) => {
    const r = await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'k', role: 'admin', ...payload }, ...(key ? { key } : {}) });
    return { status: r.statusCode, body: r.json<KeyBody>() };
  };
  const listed = async (id: string) => (await h.req({ method: 'GET', url: '/v1/keys?limit=1000' })).json<{ data: KeyBody[] }>().data.find((k) => k.id === id);

  beforeAll(async () => {
    // KEY_CACHE_TTL_MS 0: time is moved in the database, behind the key cache's back
    h = await createHarness('keys_expiry', { KEY_LAST_USED_FLUSH_MS: '600000', KEY_CACHE_TTL_MS: '0' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a key works until its expires_at, then answers 401 key_expired with an RFC 6750 challenge', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const k = await create({ expires_at: at });
    expect(k.status).toBe(201);
    expect(k.body.expires_at).toBe(at);
    expect((await listed(k.body.id))?.expires_at).toBe(at);
    expect((await h.req({ method: 'GET', url: '/v1/links', key: k.body.secret })).statusCode).toBe(200);
    // time passes (moved in the database rather than waited for)
    await h.pool.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [k.body.id]);
    const r = await h.req({ method: 'GET', url: '/v1/links', key: k.body.secret });
    expect(r.statusCode).toBe(401);
    expect(r.json()).toMatchObject({ error: { code: 'key_expired', details: { reason: 'expired' } } });
    expect(r.headers['www-authenticate']).toBe('Bearer realm="linkplane", error="invalid_token", error_description="the API key expired"');
  });

  it('expires_at must be in the future, and never later than the creating key\'s; omitted, the creator\'s is inherited', async () => {
    const past = await create({ expires_at: '2020-01-01T00:00:00Z' });
    expect([past.status, past.body.error?.code, past.body.error?.details.field]).toEqual([400, 'validation_failed', 'expires_at']);
    const bad = await create({ expires_at: 'tomorrow' });
    expect(bad.status).toBe(400);

    const parentAt = new Date(Date.now() + 86_400_000).toISOString();
    const parent = await create({ expires_at: parentAt });
    const later = await create({ expires_at: new Date(Date.now() + 2 * 86_400_000).toISOString() }, parent.body.secret);
    expect([later.status, later.body.error?.code, later.body.error?.details.field]).toEqual([403, 'privilege_escalation', 'expires_at']);
    const inherits = await create({}, parent.body.secret);
    expect([inherits.status, inherits.body.expires_at]).toEqual([201, parentAt]);
    const sooner = new Date(Date.now() + 3_600_000).toISOString();
    expect((await create({ expires_at: sooner }, parent.body.secret)).body.expires_at).toBe(sooner);
    expect((await create({})).body.expires_at).toBeNull();
  });

  it('last_used_at: shown in the listing, written at most once a minute per key, in one statement per flush', async () => {
    const a = await create({ name: 'a', role: 'read-only' });
    const b = await create({ name: 'b', role: 'read-only' });
    await h.app.lastUsed.flush(); // the admin's own uses so far
    expect((await listed(a.body.id))?.last_used_at).toBeNull();
    for (let i = 0; i < 20; i++) {
      expect((await h.req({ method: 'GET', url: '/v1/links', key: a.body.secret })).statusCode).toBe(200);
      expect((await h.req({ method: 'GET', url: '/v1/links', key: b.body.secret })).statusCode).toBe(200);
    }
    expect(await h.app.lastUsed.flush()).toBe(2); // 40 requests, two keys: two rows, one UPDATE
    const seen = (await listed(a.body.id))?.last_used_at;
    expect(Math.abs(Date.parse(seen!) - Date.now())).toBeLessThan(60_000);
    for (let i = 0; i < 5; i++) await h.req({ method: 'GET', url: '/v1/links', key: a.body.secret });
    expect(await h.app.lastUsed.flush()).toBe(0); // within the minute: nothing to write
    expect((await listed(a.body.id))?.last_used_at).toBe(seen);
  });

  it('a minute later the next use is written again; an older time never overwrites a newer one', async () => {
    const k = await create({ name: 'clocked', role: 'read-only' });
    let now = Date.parse('2030-01-01T00:00:00Z');
    const lu = new LastUsed(h.pool, { granularityMs: 60_000, flushMs: 1_000_000, now: () => now });
    lu.touch(k.body.id);
    now += 30_000;
    lu.touch(k.body.id);
    expect(await lu.flush()).toBe(1);
    expect((await listed(k.body.id))?.last_used_at).toBe('2030-01-01T00:00:00.000Z');
    now += 31_000;
    lu.touch(k.body.id);
    expect(await lu.flush()).toBe(1);
    expect((await listed(k.body.id))?.last_used_at).toBe('2030-01-01T00:01:01.000Z');
    // another control plane's older note does not move it back
    const other = new LastUsed(h.pool, { granularityMs: 60_000, flushMs: 1_000_000, now: () => Date.parse('2029-12-31T00:00:00Z') });
    other.touch(k.body.id);
    expect(await other.flush()).toBe(0);
    await lu.stop();
  });
});
