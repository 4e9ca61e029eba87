/** Reading the audit trail: one workspace's entries, newest first, filtered, keyset-paged by id. */
import type { Queryable } from '../db/pool.js';

export interface AuditFilter {
  resourceType?: string;
  resourceId?: string;
  actorKeyId?: string;
  actorClientId?: string;
  action?: string;
  from?: Date;
  to?: Date;
}

export interface AuditRow {
  id: string;
  workspace_id: string;
  actor_type: 'api_key' | 'oauth_client';
  actor_key_id: string | null;
  actor_client_id: string | null;
  actor_name: string | null;
  action: string;
  resource_type: string;
  resource_id: string;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
  changes: Record<string, unknown> | null;
  at: Date;
}

export async function listAudit(db: Queryable, workspaceId: string, f: AuditFilter, page: { limit: number; before: string | null }): Promise<AuditRow[]> {
  const where = ['workspace_id = $1'];
  const params: unknown[] = [workspaceId];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (f.resourceType !== undefined) add('resource_type = ?', f.resourceType);
  if (f.resourceId !== undefined) add('resource_id = ?', f.resourceId);
  if (f.actorKeyId !== undefined) add('actor_key_id = ?', f.actorKeyId);
  if (f.actorClientId !== undefined) add('actor_client_id = ?', f.actorClientId);
  if (f.action !== undefined) add('action = ?', f.action);
  if (f.from) add('at >= ?', f.from);
  if (f.to) add('at < ?', f.to);
  if (page.before) add('id < ?', page.before);
  params.push(page.limit);
  const { rows } = await db.query<AuditRow>(
    `SELECT id, workspace_id, actor_type, actor_key_id, actor_client_id, actor_name, action, resource_type, resource_id,
            request_id, ip, user_agent, changes, at
       FROM audit_log WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** An entry as the API shows it. */
export function toAuditResource(r: AuditRow) {
  return {
    id: r.id,
    at: r.at.toISOString(),
    action: r.action,
    resource: { type: r.resource_type, id: r.resource_id },
    actor: { type: r.actor_type, id: (r.actor_type === 'oauth_client' ? r.actor_client_id : r.actor_key_id) ?? '', name: r.actor_name },
    request: { id: r.request_id, client_address: r.ip, user_agent: r.user_agent },
    changes: r.changes,
  };
}
