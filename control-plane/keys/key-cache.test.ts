import { describe, expect, it } from 'vitest';
import type { Queryable } from '../db/pool.js';
import { KeyCache } from './key-cache.js';

const row = (id: string, expiresAt: Date | null = null) => ({
  id, workspace_id: 'ws_1', name: id, prefix: 'lp_abc', role: 'admin', scopes: ['links:read'], domains: null,
  rate_limit_burst: null, rate_limit_per_sec: null, created_by: null, created_at: new Date(0), revoked_at: null, last_used_at: null, expires_at: expiresAt,
});

/** A database of one key whose answers the test releases one by one. */
function fakeDb(answer: () => unknown[]) {
  const waiting: (() => void)[] = [];
  let queries = 0;
  let hold = false;
  const db = {
    query: () => {
      queries++;
      const rows = answer();
      return hold ? new Promise((resolve) => waiting.push(() => resolve({ rows }))) : Promise.resolve({ rows });
    },
  } as unknown as Queryable;
  return { db, queries: () => queries, hold: (h: boolean) => { hold = h; }, release: () => waiting.splice(0).forEach((f) => f()) };
}

describe('KeyCache', () => {
  it('reads a key once per TTL; an unknown secret every time', async () => {
    let now = 1_000;
    let rows: unknown[] = [row('key_a')];
    const f = fakeDb(() => rows);
    const cache = new KeyCache({ ttlMs: 1000, now: () => now });
    expect(await cache.authenticate(f.db, 'lp_a')).toMatchObject({ keyId: 'key_a' });
    expect(await cache.authenticate(f.db, 'lp_a')).toMatchObject({ keyId: 'key_a' });
    expect(f.queries()).toBe(1);
    // revoked elsewhere: still trusted until the TTL, refused from then on (and not cached as refused)
    rows = [];
    now += 999;
    expect(await cache.authenticate(f.db, 'lp_a')).toMatchObject({ keyId: 'key_a' });
    now += 1;
    expect(await cache.authenticate(f.db, 'lp_a')).toBeNull();
    expect(await cache.authenticate(f.db, 'lp_a')).toBeNull();
    expect(f.queries()).toBe(3);
  });

  it('checks the expiry on every hit', async () => {
    let now = 1_000;
    const f = fakeDb(() => [row('key_e', new Date(1_500))]);
    const cache = new KeyCache({ ttlMs: 10_000, now: () => now });
    expect(await cache.authenticate(f.db, 'lp_e')).toMatchObject({ keyId: 'key_e' });
    now = 1_500;
    expect(await cache.authenticate(f.db, 'lp_e')).toBe('expired');
  });

  it('forget: the next request reads again, and a lookup in flight meanwhile is not kept', async () => {
    let rows: unknown[] = [row('key_f')];
    const f = fakeDb(() => rows);
    const cache = new KeyCache({ ttlMs: 60_000 });
    await cache.authenticate(f.db, 'lp_f');
    cache.forget('key_f');
    f.hold(true);
    const racing = cache.authenticate(f.db, 'lp_f'); // read before the revoke committed
    rows = [];
    cache.forget('key_f'); // the revoke committed
    const after = cache.authenticate(f.db, 'lp_f'); // does not join the lookup above
    f.release();
    expect(await racing).toMatchObject({ keyId: 'key_f' });
    await Promise.resolve();
    f.release();
    expect(await after).toBeNull();
    f.hold(false);
    expect(await cache.authenticate(f.db, 'lp_f')).toBeNull();
  });

  it('one lookup for requests that miss together; TTL 0 reads every time', async () => {
    const f = fakeDb(() => [row('key_s')]);
    const cache = new KeyCache({ ttlMs: 1000 });
    f.hold(true);
    const all = Array.from({ length: 5 }, () => cache.authenticate(f.db, 'lp_s'));
    f.release();
    expect((await Promise.all(all)).every((a) => typeof a === 'object' && a?.keyId === 'key_s')).toBe(true);
    expect(f.queries()).toBe(1);
    f.hold(false);
    const off = new KeyCache({ ttlMs: 0 });
    await off.authenticate(f.db, 'lp_s');
    await off.authenticate(f.db, 'lp_s');
    expect(f.queries()).toBe(3);
  });
});
