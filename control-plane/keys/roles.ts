/**
 * Scopes and roles. Workspace scopes are what roles hand out; `system` is the platform scope
 * (workspaces), held only by the key BOOTSTRAP_ADMIN_KEY creates and never granted through the API.
 */
export const WORKSPACE_SCOPES = [
  'links:read',
  'links:write',
  'webhooks:read',
  'webhooks:write',
  'analytics:read',
  'jobs:write',
  'keys:admin',
  'audit:read',
  'links:approve',
  'policies:write',
] as const;
export const SYSTEM_SCOPE = 'system';
export const SCOPES = [...WORKSPACE_SCOPES, SYSTEM_SCOPE] as const;
export type Scope = (typeof SCOPES)[number];

export const ROLES = ['admin', 'publisher', 'analyst', 'read-only', 'reviewer'] as const;
export type Role = (typeof ROLES)[number];

/** What each role may do; a key's scopes are its role's, optionally narrowed at creation. */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  admin: WORKSPACE_SCOPES,
  publisher: ['links:read', 'links:write', 'jobs:write', 'analytics:read', 'webhooks:read', 'webhooks:write'],
  analyst: ['links:read', 'analytics:read'],
  'read-only': ['links:read', 'webhooks:read', 'analytics:read'],
  /** Approves or rejects links waiting for review (policy require_approval). */
  reviewer: ['links:read', 'links:approve'],
};
