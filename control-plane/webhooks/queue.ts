/**
 * The Postgres-backed delivery queue. A dispatcher leases due deliveries (FOR UPDATE SKIP
 * LOCKED) without holding a transaction while it sends: the lease is `lease_token` plus
 * `next_attempt_at` moved to the lease's expiry, so a dispatcher that dies mid-send simply lets
 * the delivery fall due again — it is resent with the same event id (at-least-once).
 *
 * Per-endpoint concurrency holds across every control plane: a claim locks the endpoint rows it
 * takes work for (FOR NO KEY UPDATE SKIP LOCKED, which leaves the deliveries' foreign-key checks
 * alone), counts that endpoint's live leases, and takes at most the remaining room.
 *
 * An attempt row is written once, when the attempt finished; one cut short by a crash is written
 * as `interrupted` (from its lease time) when the delivery is leased again.
 *
 * Lock order, everywhere a transaction touches both: endpoint rows (by id), then deliveries.
 */
import { randomUUID } from 'node:crypto';
import type { SigningSecret } from '../../shared/index.js';
import type { PoolClient } from '../db/pool.js';
import { emitEvents, type NewEvent } from '../events/emit.js';
import { judge, type AttemptResult, type EndpointSignal } from './outcome.js';
import type { RetryPolicy } from './retry-policy.js';
import type { OutgoingDelivery } from './send.js';

export const DELIVERIES_CHANNEL = 'linkplane_webhook_deliveries';

export interface ClaimedDelivery extends OutgoingDelivery {
  endpointId: string;
  workspaceId: string;
  cycleAttempt: number;
  leaseToken: string;
  /** The endpoint had a failing streak when this was claimed (a success must clear it). */
  endpointFailing: boolean;
}

interface ClaimRow {
  id: string;
  attempts: number;
  cycle_attempts: number;
  lease_token: string;
  endpoint_id: string;
  workspace_id: string;
  event_id: string;
  event_type: string;
  occurred_at: Date;
  data: string;
  url: string;
  secrets: SigningSecret[] | null;
  endpoint_failing: boolean;
}

export interface ClaimOptions {
  limit: number;
  /** Per-endpoint in-flight limit when the endpoint sets none. */
  endpointConcurrency: number;
  leaseMs: number;
}

const CLAIM_SQL = `
WITH eps AS (
  SELECT e.id, COALESCE(e.max_concurrency, $2::int) AS cap
  FROM webhook_endpoints e
  WHERE e.enabled AND e.deleted_at IS NULL
    AND EXISTS (SELECT 1 FROM webhook_deliveries d
                WHERE d.endpoint_id = e.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= now())
  ORDER BY e.id
  FOR NO KEY UPDATE OF e SKIP LOCKED
), room AS (
  -- live leases end within leaseMs, so the due index bounds the count
  SELECT eps.id, eps.cap - (SELECT count(*) FROM webhook_deliveries d
                            WHERE d.endpoint_id = eps.id AND d.status IN ('pending', 'failed')
                              AND d.next_attempt_at > now() AND d.next_attempt_at <= now() + $4::int * interval '1 millisecond'
                              AND d.lease_token IS NOT NULL) AS free
  FROM eps
), picked AS (
  SELECT p.* FROM room CROSS JOIN LATERAL (
    SELECT d.id, d.next_attempt_at, d.lease_token IS NOT NULL AS lease_expired, d.leased_at AS prev_leased_at
    FROM webhook_deliveries d
    WHERE d.endpoint_id = room.id AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= now()
    ORDER BY d.next_attempt_at
    LIMIT LEAST(GREATEST(room.free, 0), $1)
    FOR UPDATE OF d SKIP LOCKED
  ) p
  ORDER BY p.next_attempt_at
  LIMIT $1
), upd AS (
  UPDATE webhook_deliveries d
  SET attempts = d.attempts + 1, cycle_attempts = d.cycle_attempts + 1, lease_token = $3::uuid, leased_at = now(),
      next_attempt_at = now() + $4::int * interval '1 millisecond', updated_at = now()
  FROM picked WHERE d.id = picked.id
  RETURNING d.id, d.attempts, d.cycle_attempts, d.lease_token, d.endpoint_id, d.workspace_id, d.event_id, d.event_type,
            picked.lease_expired, picked.prev_leased_at
), lost AS (
  -- the previous lease ran out without an outcome: that attempt was cut short
  INSERT INTO webhook_attempts (delivery_id, attempt, started_at, finished_at, error, error_detail)
  SELECT id, attempts - 1, COALESCE(prev_leased_at, now()), now(), 'interrupted', 'the dispatcher stopped before recording the outcome'
  FROM upd WHERE lease_expired AND attempts > 1
  ON CONFLICT (delivery_id, attempt) DO NOTHING
), eps_used AS (
  SELECT e.id, e.url, e.failing_since,
    (SELECT json_agg(json_build_object('id', s.id, 'secret', s.secret) ORDER BY s.created_at DESC)
     FROM webhook_secrets s WHERE s.endpoint_id = e.id AND (s.expires_at IS NULL OR s.expires_at > now())) AS secrets
  FROM webhook_endpoints e WHERE e.id IN (SELECT DISTINCT endpoint_id FROM upd)
)
SELECT upd.id, upd.attempts, upd.cycle_attempts, upd.lease_token, upd.endpoint_id, upd.workspace_id, upd.event_id, upd.event_type,
       ev.occurred_at, ev.data::text AS data, eu.url, eu.secrets, eu.failing_since IS NOT NULL AS endpoint_failing
FROM upd JOIN events ev ON ev.id = upd.event_id JOIN eps_used eu ON eu.id = upd.endpoint_id`;

/** Leases up to `limit` due deliveries (oldest due first), respecting per-endpoint room. */
export async function claimDeliveries(tx: PoolClient, opts: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (opts.limit <= 0) return [];
  // one token per claim: the record step matches (id, token), so a lease that expired and was
  // taken over by another dispatcher is never overwritten by the late original
  const token = randomUUID();
  const { rows } = await tx.query<ClaimRow>({ name: 'webhook_claim', text: CLAIM_SQL, values: [opts.limit, opts.endpointConcurrency, token, opts.leaseMs] });
  return rows.map((r) => ({
    deliveryId: r.id,
    endpointId: r.endpoint_id,
    workspaceId: r.workspace_id,
    eventId: r.event_id,
    eventType: r.event_type,
    occurredAt: r.occurred_at,
    dataJson: r.data,
    attempt: r.attempts,
    cycleAttempt: r.cycle_attempts,
    leaseToken: r.lease_token,
    url: r.url,
    secrets: r.secrets ?? [],
    endpointFailing: r.endpoint_failing,
  }));
}

export interface FinishedAttempt {
  delivery: ClaimedDelivery;
  result: AttemptResult;
}

export interface RecordOptions {
  policy: RetryPolicy;
  /** Disable an endpoint whose attempts have all failed for this long. */
  disableAfterMs: number;
  random?: () => number;
}

export interface RecordSummary {
  succeeded: number;
  failed: number;
  dead: number;
  /** Results whose lease had already passed to someone else (the attempt is still recorded). */
  stale: number;
  disabledEndpoints: { id: string; reason: 'gone' | 'failing' }[];
}

const SIGNAL_RANK: Record<EndpointSignal, number> = { failed: 0, ok: 1, gone: 2 };

interface DeadRow {
  id: string;
  workspace_id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  url: string;
}

function failedEvent(r: DeadRow, reason: string): NewEvent {
  return {
    workspaceId: r.workspace_id,
    type: 'webhook.delivery.failed',
    data: {
      delivery_id: r.id,
      endpoint_id: r.endpoint_id,
      endpoint_url: r.url,
      event_id: r.event_id,
      event_type: r.event_type,
      attempts: r.attempts,
      last_status_code: r.last_status_code,
      last_error: r.last_error,
      reason,
    },
  };
}

/**
 * Writes finished attempts, moves each delivery on (succeeded / failed + next time / dead),
 * tracks endpoint health (410 → disabled; failing for `disableAfterMs` → disabled, its queue
 * dead-lettered) and emits `webhook.delivery.failed` for every delivery that died — all in the
 * caller's transaction.
 */
export async function recordResults(tx: PoolClient, finished: FinishedAttempt[], opts: RecordOptions): Promise<RecordSummary> {
  const summary: RecordSummary = { succeeded: 0, failed: 0, dead: 0, stale: 0, disabledEndpoints: [] };
  if (finished.length === 0) return summary;
  const random = opts.random ?? Math.random;
  const now = Date.now();

  // 1. endpoint health, endpoint rows locked first (sorted) to keep one lock order. Skipped in the
  //    common case: every attempt succeeded on endpoints that had no failing streak when claimed.
  const signal = new Map<string, EndpointSignal>();
  const streak = new Set<string>();
  const judged = finished.map((f) => {
    const j = judge(f.result, f.delivery.cycleAttempt, opts.policy, random);
    const prev = signal.get(f.delivery.endpointId);
    // a 410 is an instruction and wins; otherwise any success clears the failing streak
    if (prev === undefined || SIGNAL_RANK[j.endpoint] > SIGNAL_RANK[prev]) signal.set(f.delivery.endpointId, j.endpoint);
    if (f.delivery.endpointFailing) streak.add(f.delivery.endpointId);
    return { ...f, ...j };
  });
  const endpointIds = [...signal.keys()].filter((id) => signal.get(id) !== 'ok' || streak.has(id)).sort();
  const disabled: { id: string; reason: 'gone' | 'failing' }[] = [];
  if (endpointIds.length > 0) {
    const { rows: eps } = await tx.query<{ id: string; enabled: boolean; failing_since: Date | null }>(
      `SELECT id, enabled, failing_since FROM webhook_endpoints WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`,
      [endpointIds],
    );
    const health: { id: string; failing_since: Date | null; disable: 'gone' | 'failing' | null }[] = [];
    for (const e of eps) {
      const s = signal.get(e.id)!;
      if (s === 'ok') {
        if (e.failing_since !== null) health.push({ id: e.id, failing_since: null, disable: null });
        continue;
      }
      const since = e.failing_since ?? new Date(now);
      const disable = !e.enabled ? null : s === 'gone' ? 'gone' : now - since.getTime() >= opts.disableAfterMs ? 'failing' : null;
      if (e.failing_since === null || disable) health.push({ id: e.id, failing_since: since, disable });
    }
    if (health.length > 0) {
      await tx.query(
        `UPDATE webhook_endpoints e
         SET failing_since = u.failing_since,
             enabled = CASE WHEN u.disable IS NULL THEN e.enabled ELSE false END,
             disabled_reason = COALESCE(u.disable, e.disabled_reason),
             disabled_at = CASE WHEN u.disable IS NULL THEN e.disabled_at ELSE now() END,
             updated_at = now()
         FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, failing_since, disable)
         WHERE e.id = u.id`,
        [health.map((h) => h.id), health.map((h) => h.failing_since), health.map((h) => h.disable)],
      );
    }
    for (const h of health) if (h.disable) disabled.push({ id: h.id, reason: h.disable });
  }
  summary.disabledEndpoints = disabled;

  // 2. the attempts (recorded even when the lease was lost: the request did happen) and the
  //    deliveries (only where we still hold the lease), in one statement
  const r = judged.map((j) => j.result);
  const { rows: applied } = await tx.query<DeadRow & { status: string }>({
    name: 'webhook_record',
    text: `WITH r AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[], $4::text[], $5::bigint[], $6::timestamptz[], $7::int[], $8::int[], $9::text[], $10::text[], $11::text[])
         AS r(id, attempt, token, status, retry_ms, started_at, duration_ms, status_code, error, error_detail, response_body)
     ), att AS (
       -- an attempt is written once, when it finished (replacing an 'interrupted' guess if the lease was lost)
       INSERT INTO webhook_attempts (delivery_id, attempt, started_at, finished_at, duration_ms, status_code, error, error_detail, response_body)
       SELECT r.id, r.attempt, r.started_at, r.started_at + r.duration_ms * interval '1 millisecond', r.duration_ms, r.status_code,
              r.error, r.error_detail, r.response_body
       FROM r WHERE EXISTS (SELECT 1 FROM webhook_deliveries x WHERE x.id = r.id)
       ON CONFLICT (delivery_id, attempt) DO UPDATE
       SET started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, duration_ms = EXCLUDED.duration_ms,
           status_code = EXCLUDED.status_code, error = EXCLUDED.error, error_detail = EXCLUDED.error_detail, response_body = EXCLUDED.response_body
     )
     UPDATE webhook_deliveries d
     SET status = r.status, lease_token = NULL,
         next_attempt_at = CASE WHEN r.status = 'failed' THEN now() + r.retry_ms * interval '1 millisecond' ELSE d.next_attempt_at END,
         last_status_code = r.status_code, last_error = r.error,
         delivered_at = CASE WHEN r.status = 'succeeded' THEN now() ELSE d.delivered_at END,
         dead_at = CASE WHEN r.status = 'dead' THEN now() ELSE NULL END,
         updated_at = now()
     FROM r WHERE d.id = r.id AND d.lease_token = r.token
     RETURNING d.id, d.status, d.workspace_id, d.endpoint_id, d.event_id, d.event_type, d.attempts, d.last_status_code, d.last_error,
               CASE WHEN d.status = 'dead' THEN (SELECT url FROM webhook_endpoints WHERE id = d.endpoint_id) END AS url`,
    values: [
      judged.map((j) => j.delivery.deliveryId), judged.map((j) => j.delivery.attempt), judged.map((j) => j.delivery.leaseToken),
      judged.map((j) => j.verdict.status), judged.map((j) => (j.verdict.status === 'failed' ? j.verdict.retryInMs : null)),
      r.map((x) => x.startedAt), r.map((x) => x.durationMs), r.map((x) => x.statusCode), r.map((x) => x.error),
      r.map((x) => x.errorDetail?.slice(0, 1000) ?? null), r.map((x) => x.responseBody),
    ],
  });
  summary.stale = finished.length - applied.length;
  const events: NewEvent[] = [];
  for (const a of applied) {
    if (a.status === 'succeeded') summary.succeeded++;
    else if (a.status === 'failed') summary.failed++;
    else {
      summary.dead++;
      events.push(failedEvent(a, a.last_error === 'endpoint_gone' ? 'endpoint_gone' : 'retries_exhausted'));
    }
  }

  // 4. an endpoint disabled by its failures takes its queue to the dead-letter state with it
  if (disabled.length > 0) {
    const { rows } = await tx.query<DeadRow>(
      `UPDATE webhook_deliveries d
       SET status = 'dead', dead_at = now(), lease_token = NULL, last_error = 'endpoint_disabled', updated_at = now()
       WHERE d.endpoint_id = ANY($1::text[]) AND d.status IN ('pending', 'failed')
       RETURNING d.id, d.workspace_id, d.endpoint_id, d.event_id, d.event_type, d.attempts, d.last_status_code, d.last_error,
                 (SELECT url FROM webhook_endpoints WHERE id = d.endpoint_id) AS url`,
      [disabled.map((d) => d.id)],
    );
    summary.dead += rows.length;
    for (const row of rows) events.push(failedEvent(row, 'endpoint_disabled'));
  }

  // 5. dead letters are announced, except failures of the announcement itself (no loops)
  await emitEvents(tx, events.filter((e) => (e.data as { event_type: string }).event_type !== 'webhook.delivery.failed'));
  return summary;
}
