import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/index.js';
import type { AuthContext } from './key-store.js';
import { canManage, checkChildPower, childRateLimit, roleWithin, rolesWithin, type KeyPower } from './key-power.js';
import { ROLE_SCOPES, type Role, type Scope } from './roles.js';

const key = (role: Role, scopes: readonly Scope[] | null, domains: string[] | null, rateLimit: AuthContext['rateLimit'] = null): AuthContext => ({
  keyId: 'key_x', workspaceId: 'ws', role, scopes: new Set(scopes ?? ROLE_SCOPES[role]), domains, rateLimit,
});
const power = (role: Role, scopes: readonly Scope[] | null, domains: string[] | null): KeyPower => ({ role, scopes: scopes ?? ROLE_SCOPES[role], domains });

function refusal(f: () => unknown): { code: string; details: Record<string, unknown> } | null {
  try {
    f();
    return null;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { code: err.code, details: err.details as Record<string, unknown> };
  }
}

describe('key power', () => {
  it('orders roles by the scopes they allow', () => {
    expect(rolesWithin('admin').sort()).toEqual(['admin', 'analyst', 'publisher', 'read-only', 'reviewer']);
    expect(rolesWithin('publisher').sort()).toEqual(['analyst', 'publisher', 'read-only']);
    expect(rolesWithin('read-only').sort()).toEqual(['analyst', 'read-only']);
    expect(rolesWithin('analyst')).toEqual(['analyst']);
    expect(roleWithin('read-only', 'analyst')).toBe(false);
  });

  const cases: [string, AuthContext, KeyPower, string | null][] = [
    ['same power', key('admin', null, null), power('admin', null, null), null],
    ['narrower scopes', key('admin', ['keys:admin', 'links:read'], null), power('analyst', ['links:read'], null), null],
    ['a scope not held', key('admin', ['keys:admin'], null), power('admin', null, null), 'scopes'],
    ['a role above the creator (a publisher given keys:admin by hand)', key('publisher', ['keys:admin', 'links:read'], null), power('admin', ['links:read'], null), 'role'],
    ['an unrestricted child of a limited creator', key('admin', null, ['a.com']), power('read-only', null, null), 'domains'],
    ['a domain not held', key('admin', null, ['a.com']), power('read-only', null, ['a.com', 'b.com']), 'domains'],
    ['a subset of the domains', key('admin', null, ['a.com', 'b.com']), power('read-only', null, ['b.com']), null],
    ['a limited child of an unrestricted creator', key('admin', null, null), power('read-only', null, ['b.com']), null],
  ];
  cases.forEach(([name, creator, child, field]) =>
    it(`create: ${name} → ${field ? `403 on ${field}` : 'allowed'}`, () => {
      const r = refusal(() => checkChildPower(creator, child));
      if (field === null) expect(r).toBeNull();
      else expect(r).toMatchObject({ code: 'privilege_escalation', details: { field } });
      // what a key may create, it may see and revoke; what it may not, it may not
      expect(canManage(creator, child)).toBe(field === null);
    }),
  );

  it('rate limits: never looser than the creator, omitted inherits the creator\'s own', () => {
    const defaults = { burst: 200, perSec: 20 };
    const slow = key('admin', null, null, { burst: 10, perSec: 1 });
    expect(childRateLimit(slow, null, defaults)).toEqual({ burst: 10, perSec: 1 });
    expect(childRateLimit(slow, { burst: 10, perSec: 1 }, defaults)).toEqual({ burst: 10, perSec: 1 });
    expect(refusal(() => childRateLimit(slow, { burst: 11, perSec: 1 }, defaults))?.details).toMatchObject({ field: 'rate_limit' });
    expect(refusal(() => childRateLimit(slow, { burst: 5, perSec: 1.5 }, defaults))?.details).toMatchObject({ field: 'rate_limit' });
    const plain = key('admin', null, null);
    expect(childRateLimit(plain, undefined, defaults)).toBeNull();
    expect(childRateLimit(plain, { burst: 200, perSec: 20 }, defaults)).toEqual({ burst: 200, perSec: 20 });
    expect(refusal(() => childRateLimit(plain, { burst: 201, perSec: 1 }, defaults))?.code).toBe('privilege_escalation');
  });
});
