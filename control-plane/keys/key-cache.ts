/**
 * API keys resolved in process for a short time, so an authenticated request costs no query: the
 * presented secret's SHA-256 → the key's AuthContext, for at most `ttlMs` after it was read.
 *
 * How long a changed key keeps working (the bound docs/governance.md states):
 * - revoked through this control plane: not one more request (`forget` runs before the answer is
 *   sent, and a lookup that was in flight while it ran is not kept);
 * - revoked through another control plane (or in SQL): at most `ttlMs` (KEY_CACHE_TTL_MS, 1 s by
 *   default; 0 turns the cache off);
 * - expired: at once everywhere (the expiry is checked on every hit).
 * Unknown, revoked and expired secrets are not cached: a new key works at once, and a wrong secret
 * always reaches the database (and the failure limit).
 */
import type { Queryable } from '../db/pool.js';
import type { AuthContext } from './credential-store.js';
import { authenticate } from './key-store.js';
import { hashSecret } from './secrets.js';

/** Entries kept; past it the map starts over (a bound, not an LRU: a miss costs one query). */
const MAX_ENTRIES = 10_000;

interface Entry {
  auth: AuthContext;
  /** Date.now() past which the entry is read again. */
  until: number;
}

export class KeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<AuthContext | 'expired' | null>>();
  /** Bumped by every `forget`: a lookup that started before it does not fill the cache. */
  private generation = 0;

  constructor(private readonly opts: { ttlMs: number; now?: () => number }) {}

  /** Like `authenticate`: the key's context, `'expired'`, or null (unknown or revoked). */
  async authenticate(db: Queryable, secret: string): Promise<AuthContext | 'expired' | null> {
    const now = this.opts.now?.() ?? Date.now();
    if (this.opts.ttlMs <= 0) return authenticate(db, secret, now);
    const hash = hashSecret(secret);
    const id = hash.toString('base64');
    const hit = this.entries.get(id);
    if (hit && hit.until > now) {
      const exp = hit.auth.expiresAt;
      if (exp && exp.getTime() <= now) {
        this.entries.delete(id);
        return 'expired';
      }
      return hit.auth;
    }
    // one query for the requests that miss together (at expiry every connection would otherwise ask)
    let pending = this.inFlight.get(id);
    if (!pending) {
      const generation = this.generation;
      const lookup: Promise<AuthContext | 'expired' | null> = authenticate(db, secret, now, hash).then((auth) => {
        if (typeof auth === 'object' && auth !== null && generation === this.generation) {
          if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
          this.entries.set(id, { auth, until: now + this.opts.ttlMs });
        } else if (auth === null || auth === 'expired') {
          this.entries.delete(id);
        }
        return auth;
      }).finally(() => {
        if (this.inFlight.get(id) === lookup) this.inFlight.delete(id);
      });
      this.inFlight.set(id, lookup);
      pending = lookup;
    }
    return pending;
  }

  /** Drops a key (revoked here): its next request is looked up, and no lookup in flight is kept. */
  forget(keyId: string): void {
    this.generation++;
    this.inFlight.clear(); // a request from now on does not join a lookup that began before

    for (const [id, e] of this.entries) if (e.auth.keyId === keyId) this.entries.delete(id);
  }
}
