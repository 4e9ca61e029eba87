/**
 * The Postgres-backed delivery queue. A dispatcher leases due deliveries (FOR UPDATE SKIP
 * LOCKED) without holding a transaction while it sends: the lease is `lease_token` plus
 * `next_attempt_at` moved to the lease's expiry, so a dispatcher that dies mid-send simply lets
 * the delivery fall due again — it is resent with the same event id (at-least-once).
 *
 * Per-endpoint concurrency holds across every control plane: a claim locks the endpoint rows it
 * takes work for (FOR NO KEY UPDATE SKIP LOCKED, which leaves the deliveries' foreign-key checks
 * alone), counts that endpoint's live leases, and takes at most the remaining room
 * (`webhook_claim()`, migrations 202 and 203: the lease count uses the time the locks were granted).
 *
 * An attempt row is written once, when the attempt finished; one cut short by a crash is written
 * as `interrupted` (from its lease time) when the delivery is leased again.
 *
 * Lock order, everywhere a transaction touches both: endpoint rows (by id), then deliveries.
 *
 * Queue writes commit without waiting for the WAL flush (the dispatcher's connections run with
 * synchronous_commit off; the fan-out uses `relaxedCommit`): if Postgres itself crashed right
 * after, the lost commit is a lease or an outcome that never happened, so the delivery is simply
 * sent again — duplicates are allowed (at-least-once), losses are not possible.
 *
 * The hot path is one statement per step (a claim; a record of attempts that all succeeded or
 * will be retried, on healthy endpoints): a statement is its own transaction, so no BEGIN/COMMIT
 * round trips. Anything touching endpoint health or dead letters runs as a full transaction.
 */
import { randomUUID } from 'node:crypto';
import type { SigningSecret } from '../../shared/index.js';
import { openStored, sealContext, SecretBoxError, type SecretBox } from '../secrets/index.js';
import type { PoolClient, Queryable } from '../db/pool.js';
import { emitEvents, type NewEvent } from '../events/emit.js';
import { uuidToId } from '../ids.js';
import { judge, type AttemptResult, type EndpointSignal, type Verdict } from './outcome.js';
import type { RetryPolicy } from './retry-policy.js';
import type { OutgoingDelivery } from './send.js';

export const DELIVERIES_CHANNEL = 'linkplane_webhook_deliveries';

/** For queue transactions only (see above): the commit does not wait for the WAL flush. */
export async function relaxedCommit(tx: PoolClient): Promise<void> {
  await tx.query('SET LOCAL synchronous_commit TO off');
}

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
  /** JSON text, the same for every row of an endpoint: parsed once. */
  secrets: string | null;
  endpoint_failing: boolean;
  /** The event's trace context (migration 420). */
  traceparent: string | null;
}

export interface ClaimOptions {
  limit: number;
  /** Per-endpoint in-flight limit when the endpoint sets none. */
  endpointConcurrency: number;
  leaseMs: number;
  /** Opens the stored (sealed) signing secrets. */
  secrets: SecretBox;
}

/**
 * Leases up to `limit` due deliveries (oldest due first), respecting per-endpoint room: one call of
 * `webhook_claim()` (migrations 202, 203), which locks the endpoints first and counts their leases with a
 * snapshot taken after the locks were granted.
 */
export async function claimDeliveries(tx: Queryable, opts: ClaimOptions): Promise<ClaimedDelivery[]> {
  if (opts.limit <= 0) return [];
  // one token per claim: the record step matches (id, token), so a lease that expired and was
  // taken over by another dispatcher is never overwritten by the late original
  const token = randomUUID();
  const { rows } = await tx.query<ClaimRow>({
    name: 'webhook_claim',
    text: 'SELECT * FROM webhook_claim($1::int, $2::int, $3::uuid, $4::int)',
    values: [opts.limit, opts.endpointConcurrency, token, opts.leaseMs],
  });
  const parsed = new Map<string, SigningSecret[]>();
  // Sealed at rest: opened once per endpoint per claim. A secret that does not open (sealed under a
  // key this process lacks) is left out, so its endpoint fails with no_signing_secret, not the claim.
  const secretsOf = (text: string | null): SigningSecret[] => {
    if (text === null) return [];
    let s = parsed.get(text);
    if (!s) {
      s = [];
      for (const stored of JSON.parse(text) as SigningSecret[]) {
        try {
          s.push({ id: stored.id, secret: openStored(opts.secrets, stored.secret, sealContext('webhook_secrets', stored.id), true) });
        } catch (err) {
          if (!(err instanceof SecretBoxError)) throw err;
        }
      }
      parsed.set(text, s);
    }
    return s;
  };
  return rows.map((r) => ({
    deliveryId: r.id,
    endpointId: r.endpoint_id,
    workspaceId: r.workspace_id,
    eventId: uuidToId('evt', r.event_id),
    eventType: r.event_type,
    occurredAt: r.occurred_at,
    dataJson: r.data,
    attempt: r.attempts,
    cycleAttempt: r.cycle_attempts,
    leaseToken: r.lease_token,
    url: r.url,
    secrets: secretsOf(r.secrets),
    endpointFailing: r.endpoint_failing,
    traceparent: r.traceparent,
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
      event_id: uuidToId('evt', r.event_id),
      event_type: r.event_type,
      attempts: r.attempts,
      last_status_code: r.last_status_code,
      last_error: r.last_error,
      reason,
    },
  };
}

const RECORD_SQL = `WITH r AS (
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
               CASE WHEN d.status = 'dead' THEN (SELECT url FROM webhook_endpoints WHERE id = d.endpoint_id) END AS url`;

/**
 * Writes finished attempts, moves each delivery on (succeeded / failed + next time / dead),
 * tracks endpoint health (410 → disabled; failing for `disableAfterMs` → disabled, its queue
 * dead-lettered) and emits `webhook.delivery.failed` for every delivery that died — atomically.
 * `client` must not be inside a transaction: this opens one when it needs more than one statement.
 */
export async function recordResults(client: PoolClient, finished: FinishedAttempt[], opts: RecordOptions): Promise<RecordSummary> {
  const summary: RecordSummary = { succeeded: 0, failed: 0, dead: 0, stale: 0, disabledEndpoints: [] };
  if (finished.length === 0) return summary;
  const judged = judgeAll(finished, opts);
  const simple = judged.endpointIds.length === 0 && judged.list.every((j) => j.verdict.status !== 'dead');
  if (simple) {
    const applied = await writeOutcomes(client, judged.list);
    summary.stale = finished.length - applied.length;
    for (const a of applied) {
      if (a.status === 'succeeded') summary.succeeded++;
      else summary.failed++;
    }
    return summary;
  }
  await client.query('BEGIN');
  try {
    const r = await recordInTransaction(client, judged, opts);
    await client.query('COMMIT');
    return r;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

type Judged = FinishedAttempt & { verdict: Verdict; endpoint: EndpointSignal };

interface JudgedBatch {
  list: Judged[];
  signal: Map<string, EndpointSignal>;
  /** Endpoints whose health row must be looked at: a failure, or a success clearing a streak. */
  endpointIds: string[];
}

function judgeAll(finished: FinishedAttempt[], opts: RecordOptions): JudgedBatch {
  const random = opts.random ?? Math.random;
  const signal = new Map<string, EndpointSignal>();
  const streak = new Set<string>();
  const list = finished.map((f) => {
    const j = judge(f.result, f.delivery.cycleAttempt, opts.policy, random);
    const prev = signal.get(f.delivery.endpointId);
    // a 410 is an instruction and wins; otherwise any success clears the failing streak
    if (prev === undefined || SIGNAL_RANK[j.endpoint] > SIGNAL_RANK[prev]) signal.set(f.delivery.endpointId, j.endpoint);
    if (f.delivery.endpointFailing) streak.add(f.delivery.endpointId);
    return { ...f, ...j };
  });
  const endpointIds = [...signal.keys()].filter((id) => signal.get(id) !== 'ok' || streak.has(id)).sort();
  return { list, signal, endpointIds };
}

/** The attempts and the deliveries, in one statement (RECORD_SQL); returns the deliveries it moved on. */
async function writeOutcomes(db: Queryable, judged: Judged[]): Promise<(DeadRow & { status: string })[]> {
  const r = judged.map((j) => j.result);
  const { rows } = await db.query<DeadRow & { status: string }>({
    name: 'webhook_record',
    text: RECORD_SQL,
    values: [
      judged.map((j) => j.delivery.deliveryId), judged.map((j) => j.delivery.attempt), judged.map((j) => j.delivery.leaseToken),
      judged.map((j) => j.verdict.status), judged.map((j) => (j.verdict.status === 'failed' ? j.verdict.retryInMs : null)),
      r.map((x) => x.startedAt), r.map((x) => x.durationMs), r.map((x) => x.statusCode), r.map((x) => x.error),
      r.map((x) => x.errorDetail?.slice(0, 1000) ?? null), r.map((x) => x.responseBody),
    ],
  });
  return rows;
}

async function recordInTransaction(tx: PoolClient, judged: JudgedBatch, opts: RecordOptions): Promise<RecordSummary> {
  const summary: RecordSummary = { succeeded: 0, failed: 0, dead: 0, stale: 0, disabledEndpoints: [] };
  const now = Date.now();

  // 1. endpoint health, endpoint rows locked first (sorted) to keep one lock order
  const disabled: { id: string; reason: 'gone' | 'failing' }[] = [];
  if (judged.endpointIds.length > 0) {
    const { rows: eps } = await tx.query<{ id: string; enabled: boolean; failing_since: Date | null }>(
      `SELECT id, enabled, failing_since FROM webhook_endpoints WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`,
      [judged.endpointIds],
    );
    const health: { id: string; failing_since: Date | null; disable: 'gone' | 'failing' | null }[] = [];
    for (const e of eps) {
      const s = judged.signal.get(e.id)!;
      if (s === 'ok') {
        if (e.failing_since !== null) health.push({ id: e.id, failing_since: null, disable: null });
        continue;
      }
      const since = e.failing_since ?? new Date(now);
      const disable = !e.enabled ? null : s === 'gone' ? 'gone' : now - since.getTime() >= opts.disableAfterMs ? 'failing' : null;
      if (e.failing_since === null || disable) health.push({ id: e.id, failing_since: since, disable });
    }
    if (health.length > 0) {
      // disabled_at is the `now` the decision above used, not now(): the transaction began earlier, and
      // disabled_at − failing_since could read 1 ms short of WEBHOOK_DISABLE_AFTER
      await tx.query(
        `UPDATE webhook_endpoints e
         SET failing_since = u.failing_since,
             enabled = CASE WHEN u.disable IS NULL THEN e.enabled ELSE false END,
             disabled_reason = COALESCE(u.disable, e.disabled_reason),
             disabled_at = CASE WHEN u.disable IS NULL THEN e.disabled_at ELSE $4::timestamptz END,
             updated_at = now()
         FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u(id, failing_since, disable)
         WHERE e.id = u.id`,
        [health.map((h) => h.id), health.map((h) => h.failing_since), health.map((h) => h.disable), new Date(now)],
      );
    }
    for (const h of health) if (h.disable) disabled.push({ id: h.id, reason: h.disable });
  }
  summary.disabledEndpoints = disabled;

  // 2. the attempts and the deliveries
  const applied = await writeOutcomes(tx, judged.list);
  summary.stale = judged.list.length - applied.length;
  const events: NewEvent[] = [];
  for (const a of applied) {
    if (a.status === 'succeeded') summary.succeeded++;
    else if (a.status === 'failed') summary.failed++;
    else {
      summary.dead++;
      events.push(failedEvent(a, a.last_error === 'endpoint_gone' ? 'endpoint_gone' : 'retries_exhausted'));
    }
  }

  // 3. an endpoint disabled by its failures takes its queue to the dead-letter state with it
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

  // 4. dead letters are announced, except failures of the announcement itself (no loops)
  await emitEvents(tx, events.filter((e) => (e.data as { event_type: string }).event_type !== 'webhook.delivery.failed'));
  return summary;
}
