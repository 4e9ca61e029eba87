export const SCOPES = [
  'links:read',
  'links:write',
  'webhooks:read',
  'webhooks:write',
  'analytics:read',
  'jobs:write',
  'keys:admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES = ['admin', 'publisher', 'analyst', 'read-only'] as const;
export type Role = (typeof ROLES)[number];

/** What each role may do; a key's scopes are its role's, optionally narrowed at creation. */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: SCOPES,
  publisher: ['links:read', 'links:write', 'jobs:write', 'analytics:read', 'webhooks:read', 'webhooks:write'],
  analyst: ['links:read', 'analytics:read'],
  'read-only': ['links:read', 'webhooks:read', 'analytics:read'],
};
