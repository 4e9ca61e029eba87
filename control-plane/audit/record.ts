/** The audit trail: who changed what, when, from where — written in the change's transaction. */
import type { Queryable } from '../db/pool.js';
import type { AuthContext } from '../keys/key-store.js';

export interface Actor {
  auth: AuthContext;
  requestId: string;
  ip: string | null;
  userAgent: string | null;
}

export async function recordAudit(
  db: Queryable,
  actor: Actor,
  action: string,
  resource: { type: string; id: string },
  changes?: Record<string, unknown>,
): Promise<void> {
  await db.query({
    name: 'audit_insert',
    text: `INSERT INTO audit_log (workspace_id, actor_key_id, action, resource_type, resource_id, request_id, ip, user_agent, changes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    values: [
      actor.auth.workspaceId, actor.auth.keyId, action, resource.type, resource.id, actor.requestId,
      actor.ip, actor.userAgent?.slice(0, 512) ?? null, changes ? JSON.stringify(changes) : null,
    ],
  });
}
