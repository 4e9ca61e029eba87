/**
 * Inspecting and replaying deliveries: list with filters and every attempt, one delivery with its
 * event, replay one or a range of an endpoint (including events it never received), and the ping.
 */
import { newUuidV7 } from '../../shared/index.js';
import type { PoolClient, Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import { idToUuid, newId, uuidToId } from '../ids.js';

/** Matches no event (an `event_id` filter that is not one: the route's schema refuses it first). */
const NO_UUID = '00000000-0000-0000-0000-000000000000';
import type { AuthContext } from '../keys/key-store.js';
import { getEndpoint, type EndpointRow } from './endpoint-store.js';
import { DELIVERIES_CHANNEL } from './queue.js';

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead';

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  in_flight: boolean;
  attempts: number;
  next_attempt_at: Date;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  delivered_at: Date | null;
  dead_at: Date | null;
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
  status_code: number | null;
  error: string | null;
  error_detail: string | null;
  response_body: string | null;
}

const COLUMNS = `d.id, d.endpoint_id, d.event_id, d.event_type, d.status,
  (d.lease_token IS NOT NULL AND d.next_attempt_at > now()) AS in_flight, d.attempts, d.next_attempt_at,
  d.last_status_code, d.last_error, d.created_at, d.updated_at, d.delivered_at, d.dead_at`;

export interface AttemptResource {
  attempt: number;
  started_at: string;
  finished_at: string | null;
  duration_ms: number | null;
  status_code: number | null;
  error: string | null;
  error_detail: string | null;
  response_body: string | null;
}

export interface DeliveryResource {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  in_flight: boolean;
  attempt_count: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  dead_at: string | null;
  attempts: AttemptResource[];
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function toAttempt(a: AttemptRow): AttemptResource {
  return {
    attempt: a.attempt,
    started_at: a.started_at.toISOString(),
    finished_at: iso(a.finished_at),
    duration_ms: a.duration_ms,
    status_code: a.status_code,
    error: a.error,
    error_detail: a.error_detail,
    response_body: a.response_body,
  };
}

function toDelivery(d: DeliveryRow, attempts: AttemptRow[]): DeliveryResource {
  const waiting = (d.status === 'pending' || d.status === 'failed') && !d.in_flight;
  return {
    id: d.id,
    endpoint_id: d.endpoint_id,
    event_id: uuidToId('evt', d.event_id),
    event_type: d.event_type,
    status: d.status,
    in_flight: d.in_flight,
    attempt_count: d.attempts,
    next_attempt_at: waiting ? d.next_attempt_at.toISOString() : null,
    last_status_code: d.last_status_code,
    last_error: d.last_error,
    created_at: d.created_at.toISOString(),
    updated_at: d.updated_at.toISOString(),
    delivered_at: iso(d.delivered_at),
    dead_at: iso(d.dead_at),
    attempts: attempts.map(toAttempt),
  };
}

async function withAttempts(db: Queryable, rows: DeliveryRow[]): Promise<DeliveryResource[]> {
  if (rows.length === 0) return [];
  const { rows: attempts } = await db.query<AttemptRow>(
    `SELECT delivery_id, attempt, started_at, finished_at, duration_ms, status_code, error, error_detail, response_body
     FROM webhook_attempts WHERE delivery_id = ANY($1::text[]) ORDER BY delivery_id, attempt`,
    [rows.map((r) => r.id)],
  );
  const by = new Map<string, AttemptRow[]>();
  for (const a of attempts) {
    const list = by.get(a.delivery_id) ?? [];
    list.push(a);
    by.set(a.delivery_id, list);
  }
  return rows.map((r) => toDelivery(r, by.get(r.id) ?? []));
}

export interface DeliveryFilters {
  status?: DeliveryStatus;
  endpoint_id?: string;
  event_type?: string;
  event_id?: string;
  /** Created at or after (ISO). */
  from?: string;
  /** Created before (ISO). */
  to?: string;
  limit: number;
  /** Keyset: ids below this one (newest first). */
  after: string | null;
}

/** Newest first; `limit + 1` rows are read so the caller can tell whether there is a next page. */
export async function listDeliveries(db: Queryable, auth: AuthContext, f: DeliveryFilters): Promise<DeliveryResource[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT ${COLUMNS} FROM webhook_deliveries d
     WHERE d.workspace_id = $1
       AND ($2::text IS NULL OR d.status = $2) AND ($3::text IS NULL OR d.endpoint_id = $3)
       AND ($4::text IS NULL OR d.event_type = $4) AND ($5::uuid IS NULL OR d.event_id = $5)
       AND ($6::timestamptz IS NULL OR d.created_at >= $6) AND ($7::timestamptz IS NULL OR d.created_at < $7)
       AND ($8::text IS NULL OR d.id < $8)
     ORDER BY d.id DESC LIMIT $9`,
    [auth.workspaceId, f.status ?? null, f.endpoint_id ?? null, f.event_type ?? null, f.event_id ? idToUuid('evt', f.event_id) ?? NO_UUID : null, f.from ?? null, f.to ?? null, f.after, f.limit],
  );
  return withAttempts(db, rows);
}

export interface DeliveryDetail extends DeliveryResource {
  event: { id: string; type: string; occurred_at: string; data: unknown };
}

export async function getDelivery(db: Queryable, auth: AuthContext, id: string): Promise<DeliveryDetail> {
  const { rows } = await db.query<DeliveryRow & { occurred_at: Date; data: unknown }>(
    `SELECT ${COLUMNS}, ev.occurred_at, ev.data FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id
     WHERE d.id = $1 AND d.workspace_id = $2`,
    [id, auth.workspaceId],
  );
  const row = rows[0];
  if (!row) throw errors.webhook_delivery_not_found({ id });
  const [resource] = await withAttempts(db, [row]);
  return { ...resource!, event: { id: uuidToId('evt', row.event_id), type: row.event_type, occurred_at: row.occurred_at.toISOString(), data: row.data } };
}

function assertSendable(ep: EndpointRow): void {
  if (!ep.enabled) {
    throw errors.webhook_endpoint_disabled({ endpoint_id: ep.id, disabled_reason: ep.disabled_reason }, `endpoint ${ep.id} is disabled (${ep.disabled_reason ?? 'manual'}); PATCH it with {"enabled": true} first`);
  }
}

const notify = (tx: Queryable) => tx.query(`SELECT pg_notify('${DELIVERIES_CHANNEL}', '')`);

/** Queues one delivery again, now, with a fresh retry schedule (its attempt count continues). */
export async function replayDelivery(tx: PoolClient, auth: AuthContext, id: string): Promise<DeliveryResource> {
  const { rows } = await tx.query<{ endpoint_id: string; in_flight: boolean }>(
    `SELECT endpoint_id, (lease_token IS NOT NULL AND next_attempt_at > now()) AS in_flight FROM webhook_deliveries WHERE id = $1 AND workspace_id = $2`,
    [id, auth.workspaceId],
  );
  const found = rows[0];
  if (!found) throw errors.webhook_delivery_not_found({ id });
  let ep: EndpointRow;
  try {
    ep = await getEndpoint(tx, auth, found.endpoint_id, true);
  } catch {
    throw errors.webhook_endpoint_disabled({ endpoint_id: found.endpoint_id, disabled_reason: 'deleted' }, `endpoint ${found.endpoint_id} was deleted`);
  }
  assertSendable(ep);
  const { rows: updated } = await tx.query<DeliveryRow>(
    `UPDATE webhook_deliveries d
     SET status = 'pending', cycle_attempts = 0, next_attempt_at = now(), lease_token = NULL, dead_at = NULL, updated_at = now()
     WHERE d.id = $1 AND NOT (d.lease_token IS NOT NULL AND d.next_attempt_at > now())
     RETURNING ${COLUMNS}`,
    [id],
  );
  if (!updated[0]) throw errors.webhook_delivery_in_flight({ id });
  await notify(tx);
  const [resource] = await withAttempts(tx, updated);
  return resource!;
}

export type ReplayStatus = 'failed' | 'dead' | 'succeeded' | 'missing';

export interface RangeReplay {
  from?: string;
  to?: string;
  statuses: ReplayStatus[];
  limit: number;
}

/**
 * Replays an endpoint's deliveries in a time range whose status is one of `statuses` (oldest
 * first, at most `limit`); `missing` also creates deliveries for matching events of the range
 * that this endpoint never had (e.g. sent before it existed or while it was disabled).
 */
export async function replayEndpoint(tx: PoolClient, auth: AuthContext, endpointId: string, r: RangeReplay): Promise<{ replayed: number; created: number; more: boolean }> {
  const ep = await getEndpoint(tx, auth, endpointId, true);
  assertSendable(ep);
  const existing = r.statuses.filter((s): s is Exclude<ReplayStatus, 'missing'> => s !== 'missing');
  let replayed = 0;
  if (existing.length > 0) {
    const { rowCount } = await tx.query(
      `WITH picked AS (
         SELECT id FROM webhook_deliveries
         WHERE endpoint_id = $1 AND status = ANY($2::text[])
           AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
           AND NOT (lease_token IS NOT NULL AND next_attempt_at > now())
         ORDER BY id LIMIT $5
         FOR UPDATE SKIP LOCKED
       )
       UPDATE webhook_deliveries d
       SET status = 'pending', cycle_attempts = 0, next_attempt_at = now(), lease_token = NULL, dead_at = NULL, updated_at = now()
       FROM picked WHERE d.id = picked.id`,
      [endpointId, existing, r.from ?? null, r.to ?? null, r.limit],
    );
    replayed = rowCount ?? 0;
  }
  let created = 0;
  if (r.statuses.includes('missing') && replayed < r.limit) {
    const { rows } = await tx.query<{ id: string; type: string }>(
      `SELECT ev.id, ev.type FROM events ev
       WHERE ev.workspace_id = $1 AND ev.type <> 'webhook.ping' AND webhook_filter_matches($2::text[], ev.type)
         AND ($3::timestamptz IS NULL OR ev.occurred_at >= $3) AND ($4::timestamptz IS NULL OR ev.occurred_at < $4)
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.endpoint_id = $5)
       ORDER BY ev.occurred_at LIMIT $6`,
      [auth.workspaceId, ep.event_types, r.from ?? null, r.to ?? null, endpointId, r.limit - replayed],
    );
    if (rows.length > 0) {
      const res = await tx.query(
        `INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type)
         SELECT u.id, $1, $2, u.event_id, u.event_type FROM unnest($3::text[], $4::uuid[], $5::text[]) AS u(id, event_id, event_type)
         ON CONFLICT (event_id, endpoint_id) DO NOTHING`,
        [auth.workspaceId, endpointId, rows.map(() => newId('whd')), rows.map((x) => x.id), rows.map((x) => x.type)],
      );
      created = res.rowCount ?? 0;
    }
  }
  if (replayed + created > 0) await notify(tx);
  return { replayed, created, more: replayed + created >= r.limit };
}

/** Sends a `webhook.ping` event to this endpoint only; returns its delivery (poll it to see the outcome). */
export async function sendTestEvent(tx: PoolClient, auth: AuthContext, endpointId: string): Promise<DeliveryResource> {
  const ep = await getEndpoint(tx, auth, endpointId, true);
  assertSendable(ep);
  const eventId = newUuidV7();
  await tx.query(
    `INSERT INTO events (id, workspace_id, type, data, dispatched_at) VALUES ($1, $2, 'webhook.ping', $3, now())`,
    [eventId, auth.workspaceId, JSON.stringify({ endpoint_id: ep.id, url: ep.url, message: 'A test event from linkplane: your endpoint is reachable and can verify signatures.' })],
  );
  const { rows } = await tx.query<DeliveryRow>(
    `INSERT INTO webhook_deliveries AS d (id, workspace_id, endpoint_id, event_id, event_type) VALUES ($1, $2, $3, $4, 'webhook.ping')
     RETURNING ${COLUMNS}`,
    [newId('whd'), auth.workspaceId, ep.id, eventId],
  );
  await notify(tx);
  return toDelivery(rows[0]!, []);
}
