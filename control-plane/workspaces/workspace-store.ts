/**
 * Workspaces, managed by the platform admin (scope `system`): each is created with its first
 * admin key (secret shown once). Everything else in the API lives inside one workspace.
 */
import type { Actor } from '../audit/index.js';
import { recordAudit } from '../audit/index.js';
import type { PoolClient, Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { newId } from '../ids.js';
import { createKey, type ApiKeyRow } from '../keys/key-store.js';
import { ROLE_SCOPES } from '../keys/roles.js';

export interface WorkspaceRow {
  id: string;
  name: string;
  created_at: Date;
}

const UNIQUE_VIOLATION = '23505';

export async function createWorkspace(
  tx: PoolClient,
  actor: Actor,
  input: { name: string; adminKey: { name: string; expiresAt: Date | null } },
): Promise<{ workspace: WorkspaceRow; key: ApiKeyRow; secret: string }> {
  await tx.query('SAVEPOINT ws_insert');
  let workspace: WorkspaceRow;
  try {
    const { rows } = await tx.query<WorkspaceRow>('INSERT INTO workspaces (id, name) VALUES ($1, $2) RETURNING id, name, created_at', [newId('ws'), input.name]);
    workspace = rows[0]!;
  } catch (err) {
    await tx.query('ROLLBACK TO SAVEPOINT ws_insert');
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) throw errors.workspace_name_taken({ field: 'name', name: input.name });
    throw err;
  }
  const { row: key, secret } = await createKey(tx, {
    workspaceId: workspace.id, name: input.adminKey.name, role: 'admin', scopes: [...ROLE_SCOPES.admin], createdBy: actor.auth.keyId, expiresAt: input.adminKey.expiresAt,
  });
  await recordAudit(tx, actor, 'workspace.create', { type: 'workspace', id: workspace.id }, { after: { name: workspace.name, admin_key_id: key.id } });
  return { workspace, key, secret };
}

export async function listWorkspaces(db: Queryable, page: { limit: number; after: string | null }): Promise<WorkspaceRow[]> {
  const { rows } = await db.query<WorkspaceRow>(
    'SELECT id, name, created_at FROM workspaces WHERE ($1::text IS NULL OR id < $1) ORDER BY id DESC LIMIT $2',
    [page.after, page.limit],
  );
  return rows;
}

export async function getWorkspace(db: Queryable, id: string): Promise<WorkspaceRow> {
  const { rows } = await db.query<WorkspaceRow>('SELECT id, name, created_at FROM workspaces WHERE id = $1', [id]);
  if (!rows[0]) throw errors.workspace_not_found({ id });
  return rows[0];
}

export const toWorkspaceResource = (w: WorkspaceRow) => ({ id: w.id, name: w.name, created_at: w.created_at.toISOString() });
