/**
 * Webhook endpoints and their signing secrets. A secret is generated with a key id and shown once;
 * rotation adds a new one and lets the current ones retire after an overlap window. Secrets are
 * stored sealed under SECRETS_KEY (secrets/), never in clear.
 */
import { checkUrl, generateWebhookSecret, type SigningSecret } from '../../shared/index.js';
import { changedFields, recordAudit, type Actor } from '../audit/record.js';
import type { PoolClient, Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { newId } from '../ids.js';
import type { AuthContext } from '../keys/key-store.js';
import { sealContext, type SecretBox } from '../secrets/index.js';
import { validateEventFilter } from './event-filter.js';
import { DELIVERIES_CHANNEL } from './queue.js';

export type DisabledReason = 'manual' | 'gone' | 'failing';

export interface EndpointRow {
  id: string;
  workspace_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: DisabledReason | null;
  disabled_at: Date | null;
  max_concurrency: number | null;
  failing_since: Date | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  /** Secrets not yet retired, newest first (no secret values). */
  secrets: { key_id: string; created_at: string; expires_at: string | null }[];
}

const COLUMNS = `e.id, e.workspace_id, e.url, e.description, e.event_types, e.enabled, e.disabled_reason, e.disabled_at,
  e.max_concurrency, e.failing_since, e.metadata, e.created_at, e.updated_at, e.deleted_at,
  COALESCE((SELECT json_agg(json_build_object('key_id', s.id, 'created_at', s.created_at, 'expires_at', s.expires_at) ORDER BY s.created_at DESC)
            FROM webhook_secrets s WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())), '[]') AS secrets`;

export interface EndpointResource {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: DisabledReason | null;
  disabled_at: string | null;
  max_concurrency: number | null;
  failing_since: string | null;
  metadata: Record<string, unknown>;
  secrets: { key_id: string; created_at: string; expires_at: string | null }[];
  created_at: string;
  updated_at: string;
}

const iso = (v: Date | string | null): string | null => (v === null ? null : new Date(v).toISOString());

export function toEndpointResource(row: EndpointRow): EndpointResource {
  return {
    id: row.id,
    url: row.url,
    events: row.event_types,
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    disabled_at: iso(row.disabled_at),
    max_concurrency: row.max_concurrency,
    failing_since: iso(row.failing_since),
    metadata: row.metadata,
    secrets: row.secrets.map((s) => ({ key_id: s.key_id, created_at: iso(s.created_at)!, expires_at: iso(s.expires_at) })),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export interface EndpointPolicy {
  /** WEBHOOK_ALLOW_PRIVATE: http and private addresses allowed (dev and tests). */
  allowPrivate: boolean;
}

export interface EndpointInput {
  url: string;
  events?: string[];
  description?: string | null;
  enabled?: boolean;
  max_concurrency?: number | null;
  metadata?: Record<string, unknown>;
}

export type EndpointPatch = Partial<EndpointInput>;

export const METADATA_MAX_BYTES = 16_384;

/** https only and no private/loopback/link-local literal (any spelling), unless allowPrivate. */
export function validWebhookUrl(url: string, allowPrivate: boolean, field = 'url'): string {
  const r = checkUrl(url, { allowPrivate, protocols: allowPrivate ? ['http', 'https'] : ['https'] });
  if (!r.ok) throw errors.invalid_url({ field, reason: r.problem }, `${field}: ${r.message}`);
  return r.url;
}

function checkMetadata(metadata: Record<string, unknown> | undefined): void {
  if (metadata && Buffer.byteLength(JSON.stringify(metadata)) > METADATA_MAX_BYTES) {
    throw errors.validation_failed({ field: 'metadata', reason: 'too_large' }, `metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON`);
  }
}

/**
 * Endpoints receive events of every domain of the workspace, so a key limited to some domains
 * may not manage them or read their deliveries.
 */
export function assertWorkspaceWide(auth: AuthContext): void {
  if (auth.domains !== null) {
    throw errors.domain_not_allowed({ reason: 'domain_limited_key' }, 'webhooks carry events of every domain; a key limited to domains cannot use them');
  }
}

/** A new signing secret: returned in clear (shown once), stored sealed (secrets/). */
async function insertSecret(tx: Queryable, endpointId: string, box: SecretBox): Promise<SigningSecret> {
  const s = { id: newId('whk'), secret: generateWebhookSecret() };
  await tx.query('INSERT INTO webhook_secrets (id, endpoint_id, secret) VALUES ($1, $2, $3)', [
    s.id, endpointId, box.seal(s.secret, sealContext('webhook_secrets', s.id)),
  ]);
  return s;
}

export async function getEndpoint(db: Queryable, auth: AuthContext, id: string, lock = false): Promise<EndpointRow> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints e WHERE e.id = $1 AND e.workspace_id = $2 AND e.deleted_at IS NULL${lock ? ' FOR NO KEY UPDATE OF e' : ''}`,
    [id, auth.workspaceId],
  );
  if (!rows[0]) throw errors.webhook_endpoint_not_found({ id });
  return rows[0];
}

export async function listEndpoints(db: Queryable, auth: AuthContext, opts: { limit: number; after: string | null; enabled?: boolean }): Promise<EndpointRow[]> {
  const { rows } = await db.query<EndpointRow>(
    `SELECT ${COLUMNS} FROM webhook_endpoints e
     WHERE e.workspace_id = $1 AND e.deleted_at IS NULL AND ($2::text IS NULL OR e.id < $2) AND ($3::boolean IS NULL OR e.enabled = $3)
     ORDER BY e.id DESC LIMIT $4`,
    [auth.workspaceId, opts.after, opts.enabled ?? null, opts.limit],
  );
  return rows;
}

export async function createEndpoint(tx: PoolClient, actor: Actor, input: EndpointInput, policy: EndpointPolicy, box: SecretBox): Promise<{ row: EndpointRow; secret: SigningSecret }> {
  assertWorkspaceWide(actor.auth);
  const url = validWebhookUrl(input.url, policy.allowPrivate);
  const events = validateEventFilter(input.events ?? ['*']);
  checkMetadata(input.metadata);
  const id = newId('whe');
  const enabled = input.enabled ?? true;
  await tx.query(
    `INSERT INTO webhook_endpoints (id, workspace_id, url, description, event_types, enabled, disabled_reason, disabled_at, max_concurrency, metadata, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [id, actor.auth.workspaceId, url, input.description ?? null, events, enabled, enabled ? null : 'manual', enabled ? null : new Date(),
      input.max_concurrency ?? null, JSON.stringify(input.metadata ?? {}), actor.auth.keyId],
  );
  const secret = await insertSecret(tx, id, box);
  await recordAudit(tx, actor, 'webhook.endpoint.create', { type: 'webhook_endpoint', id }, { after: { url, event_types: events, description: input.description ?? null } });
  return { row: await getEndpoint(tx, actor.auth, id), secret };
}

export async function updateEndpoint(tx: PoolClient, actor: Actor, id: string, patch: EndpointPatch, policy: EndpointPolicy): Promise<EndpointRow> {
  assertWorkspaceWide(actor.auth);
  const before = await getEndpoint(tx, actor.auth, id, true);
  const url = patch.url !== undefined ? validWebhookUrl(patch.url, policy.allowPrivate) : before.url;
  const events = patch.events !== undefined ? validateEventFilter(patch.events) : before.event_types;
  checkMetadata(patch.metadata);
  const enabled = patch.enabled ?? before.enabled;
  const turnedOn = enabled && !before.enabled;
  const turnedOff = !enabled && before.enabled;
  await tx.query(
    `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, max_concurrency = $5, metadata = $6,
       enabled = $7,
       disabled_reason = CASE WHEN $7 THEN NULL WHEN $8 THEN 'manual' ELSE disabled_reason END,
       disabled_at = CASE WHEN $7 THEN NULL WHEN $8 THEN now() ELSE disabled_at END,
       failing_since = CASE WHEN $9 THEN NULL ELSE failing_since END,
       updated_at = now()
     WHERE id = $1`,
    [id, url, patch.description !== undefined ? patch.description : before.description, events,
      patch.max_concurrency !== undefined ? patch.max_concurrency : before.max_concurrency,
      JSON.stringify(patch.metadata ?? before.metadata), enabled, turnedOff, turnedOn],
  );
  // deliveries held while it was disabled go out now
  if (turnedOn) await tx.query(`SELECT pg_notify('${DELIVERIES_CHANNEL}', '')`);
  const after = await getEndpoint(tx, actor.auth, id);
  const fields = (r: EndpointRow) => ({ url: r.url, description: r.description, event_types: r.event_types, max_concurrency: r.max_concurrency, metadata: r.metadata, enabled: r.enabled });
  await recordAudit(tx, actor, 'webhook.endpoint.update', { type: 'webhook_endpoint', id }, changedFields(fields(before), fields(after)));
  return after;
}

/** Soft delete; deliveries still waiting are closed as dead (`endpoint_deleted`) without events. */
export async function deleteEndpoint(tx: PoolClient, actor: Actor, id: string): Promise<EndpointRow> {
  assertWorkspaceWide(actor.auth);
  const row = await getEndpoint(tx, actor.auth, id, true);
  await tx.query(`UPDATE webhook_endpoints SET deleted_at = now(), enabled = false, updated_at = now() WHERE id = $1`, [id]);
  await tx.query(
    `UPDATE webhook_deliveries SET status = 'dead', dead_at = now(), lease_token = NULL, last_error = 'endpoint_deleted', updated_at = now()
     WHERE endpoint_id = $1 AND status IN ('pending', 'failed')`,
    [id],
  );
  await recordAudit(tx, actor, 'webhook.endpoint.delete', { type: 'webhook_endpoint', id }, { before: { url: row.url, enabled: row.enabled } });
  return { ...row, enabled: false };
}

/**
 * Adds a new secret; the secrets signing until now keep signing for `overlapHours` (a secret that
 * already retires sooner keeps its earlier time), then retire.
 */
export async function rotateSecret(tx: PoolClient, actor: Actor, id: string, overlapHours: number, box: SecretBox): Promise<{ row: EndpointRow; secret: SigningSecret }> {
  assertWorkspaceWide(actor.auth);
  await getEndpoint(tx, actor.auth, id, true);
  await tx.query(
    `UPDATE webhook_secrets SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + $2::float8 * interval '1 hour')
     WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > now())`,
    [id, overlapHours],
  );
  const secret = await insertSecret(tx, id, box);
  await tx.query('UPDATE webhook_endpoints SET updated_at = now() WHERE id = $1', [id]);
  await recordAudit(tx, actor, 'webhook.endpoint.rotate_secret', { type: 'webhook_endpoint', id }, { after: { secret_key_id: secret.id, overlap_hours: overlapHours } });
  return { row: await getEndpoint(tx, actor.auth, id), secret };
}

/**
 * Workspaces (of `workspaceIds`, or all) with an enabled endpoint subscribed to any of `types` —
 * for producers of high-volume events (clicks) that skip writing events nobody receives.
 */
export async function subscribedWorkspaces(db: Queryable, types: readonly string[], workspaceIds?: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ workspace_id: string }>(
    `SELECT DISTINCT e.workspace_id FROM webhook_endpoints e, unnest($1::text[]) AS t(type)
     WHERE e.enabled AND e.deleted_at IS NULL AND ($2::text[] IS NULL OR e.workspace_id = ANY($2))
       AND webhook_filter_matches(e.event_types, t.type)`,
    [types, workspaceIds ?? null],
  );
  return new Set(rows.map((r) => r.workspace_id));
}
