/**
 * What a key may do to other keys: create, see and revoke only keys with no more power than
 * itself. A key's power is its scopes, its domain limit and its rate limit; its role is the named
 * ceiling of its scopes. Pure decisions here; the SQL filter for list/revoke mirrors `canManage`.
 */
import { errors } from '../errors.js';
import type { AuthContext } from './key-store.js';
import { ROLE_SCOPES, ROLES, type Role, type Scope } from './roles.js';

export interface RateLimit {
  burst: number;
  perSec: number;
}

/** The parts of a key that carry power. `domains: null` = every domain of the workspace. */
export interface KeyPower {
  role: Role;
  scopes: readonly Scope[];
  domains: readonly string[] | null;
}

/** Role `r` is at most role `of` when every scope `r` allows, `of` allows too. */
export function roleWithin(r: Role, of: Role): boolean {
  return ROLE_SCOPES[r].every((s) => ROLE_SCOPES[of].includes(s));
}

/** The roles a key of role `of` may hand out (and see): never one above its own. */
export function rolesWithin(of: Role): Role[] {
  return ROLES.filter((r) => roleWithin(r, of));
}

/** Domains of `child` that `holder` may not use; `'all'` when the child is unrestricted and the holder is not. */
function domainsNotHeld(holder: AuthContext, child: readonly string[] | null): string[] | 'all' {
  if (holder.domains === null) return [];
  if (child === null) return 'all';
  return child.filter((d) => !holder.domains!.includes(d));
}

/** True when `holder` could have created `key`: its role, scopes and domains are within the holder's. */
export function canManage(holder: AuthContext, key: KeyPower): boolean {
  const d = domainsNotHeld(holder, key.domains);
  return roleWithin(key.role, holder.role) && key.scopes.every((s) => holder.scopes.has(s)) && d !== 'all' && d.length === 0;
}

/**
 * The rate limit a new key gets, checked against its creator's effective limit (its own, else the
 * server defaults): asking for none inherits the creator's own limit (none stays none); asking for
 * more burst or more per second than the creator has is refused.
 */
export function childRateLimit(creator: AuthContext, asked: RateLimit | null | undefined, defaults: RateLimit): RateLimit | null {
  const own = creator.rateLimit;
  if (!asked) return own ? { ...own } : null;
  const held = { burst: own?.burst || defaults.burst, perSec: own?.perSec || defaults.perSec };
  if (asked.burst > held.burst || asked.perSec > held.perSec) {
    throw errors.privilege_escalation(
      { field: 'rate_limit', reason: 'rate_limit_above_creator', asked: { burst: asked.burst, per_second: asked.perSec }, held: { burst: held.burst, per_second: held.perSec } },
      `rate_limit may not exceed the creating key's (burst ${held.burst}, ${held.perSec}/s)`,
    );
  }
  return asked;
}

/**
 * Refuses (403 privilege_escalation, naming the field) a new key with a role above the creator's,
 * a scope the creator lacks, or a domain the creator may not use (an unrestricted child of a
 * domain-limited creator included).
 */
export function checkChildPower(creator: AuthContext, child: KeyPower): void {
  if (!roleWithin(child.role, creator.role)) {
    throw errors.privilege_escalation({ field: 'role', reason: 'role_above_creator', role: child.role, held: creator.role }, `role ${child.role} is above the creating key's role (${creator.role})`);
  }
  const scopes = child.scopes.filter((s) => !creator.scopes.has(s));
  if (scopes.length) {
    throw errors.privilege_escalation(
      { field: 'scopes', reason: 'scope_not_held', not_held: scopes, held: [...creator.scopes] },
      `the creating key lacks ${scopes.join(', ')} (a new key gets its role's scopes unless "scopes" narrows them)`,
    );
  }
  const d = domainsNotHeld(creator, child.domains);
  if (d === 'all') {
    throw errors.privilege_escalation(
      { field: 'domains', reason: 'unrestricted_child', held: creator.domains },
      'the creating key is limited to domains; the new key must be limited to (some of) them',
    );
  }
  if (d.length) {
    throw errors.privilege_escalation({ field: 'domains', reason: 'domain_not_held', not_held: d, held: creator.domains }, `the creating key may not use ${d.join(', ')}`);
  }
}

/**
 * The expiry a new key gets: asking for none inherits the creator's (none stays none); a time not
 * in the future is a 400; a time after the creator's own expiry is refused (a key cannot outlive
 * the key that made it).
 */
export function childExpiry(creator: AuthContext, asked: Date | null, now = Date.now()): Date | null {
  const own = creator.expiresAt ?? null;
  if (!asked) return own;
  if (asked.getTime() <= now) throw errors.validation_failed({ field: 'expires_at', in: 'body', reason: 'not_in_future' }, 'expires_at must be in the future');
  if (own && asked.getTime() > own.getTime()) {
    throw errors.privilege_escalation(
      { field: 'expires_at', reason: 'expires_after_creator', held: own.toISOString() },
      `expires_at may not be later than the creating key's (${own.toISOString()})`,
    );
  }
  return asked;
}
