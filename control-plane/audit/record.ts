/** The audit trail: who changed what, when, from where — written in the change's transaction. */
import type { Queryable } from '../db/pool.js';
import { newId } from '../ids.js';
import type { AuthContext } from '../keys/key-store.js';

/** Who acts and the request facts the audit keeps (http/request-context.ts `actorOf` builds it). */
export interface Actor {
  auth: AuthContext;
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

/** Field names whose values never enter the audit (at any depth), and values that look like our secrets. */
const SECRET_FIELD = /(^|_)(secret|password|passphrase|token|private_key|authorization)$/i;
const SECRET_VALUE = /^(lp_|lpc_)[A-Za-z0-9]{20,}$/;
export const REDACTED = '[redacted]';

/** A deep copy of `v` with secret fields and secret-looking strings replaced by "[redacted]". */
export function scrubSecrets(v: unknown): unknown {
  if (typeof v === 'string') return SECRET_VALUE.test(v) ? REDACTED : v;
  if (Array.isArray(v)) return v.map(scrubSecrets);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_FIELD.test(k) && x !== null && x !== undefined ? REDACTED : scrubSecrets(x)]));
  }
  return v;
}

/**
 * The changed fields of an update as `{ before, after }`: only the fields of `after` whose value
 * differs from `before` (compared as JSON).
 */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): { before: Record<string, unknown>; after: Record<string, unknown> } {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(after)) {
    if (v === undefined) continue;
    const was = before[k] instanceof Date ? (before[k] as Date).toISOString() : before[k];
    const now = v instanceof Date ? v.toISOString() : v;
    if (JSON.stringify(was ?? null) === JSON.stringify(now ?? null)) continue;
    b[k] = was ?? null;
    a[k] = now ?? null;
  }
  return { before: b, after: a };
}

/** The audit_log columns an entry sets, in the order of `auditValues`. */
export const AUDIT_COLUMNS = ['id', 'workspace_id', 'actor_type', 'actor_key_id', 'actor_client_id', 'actor_name', 'action', 'resource_type', 'resource_id',
  'request_id', 'ip', 'user_agent', 'changes'] as const;

/** The values of one entry, in `AUDIT_COLUMNS` order (secrets scrubbed): for writers that fold the entry into their own statement. */
export function auditValues(
  actor: Actor,
  action: string,
  resource: { type: string; id: string; workspaceId?: string },
  changes?: Record<string, unknown>,
): unknown[] {
  const viaClient = actor.auth.via === 'oauth_client';
  return [
    newId('aud'), resource.workspaceId ?? actor.auth.workspaceId, viaClient ? 'oauth_client' : 'api_key',
    viaClient ? null : actor.auth.keyId, viaClient ? actor.auth.keyId : null, actor.auth.name ?? null,
    action, resource.type, resource.id, actor.requestId, actor.ip, actor.userAgent?.slice(0, 512) ?? null,
    changes ? JSON.stringify(scrubSecrets(changes)) : null,
  ];
}

/**
 * Appends one entry. `changes` is what changed (by convention `{ before, after }` of the changed
 * fields, or the created resource's fields); secret fields are replaced by "[redacted]" whatever
 * the caller passes. `workspaceId` overrides the actor's workspace (platform actions).
 */
export async function recordAudit(
  db: Queryable,
  actor: Actor,
  action: string,
  resource: { type: string; id: string; workspaceId?: string },
  changes?: Record<string, unknown>,
): Promise<void> {
  await db.query({
    name: 'audit_insert_v2',
    text: `INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    values: auditValues(actor, action, resource, changes),
  });
}
