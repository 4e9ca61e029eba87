/**
 * The completion POST to a job's callback_url: the job.succeeded / job.failed event envelope
 * (same Event-Id as the webhook event), signed like a webhook with the job's callback secret
 * (key id = the job id; stored sealed under SECRETS_KEY), sent through the SSRF-safe agent, retried on the webhook schedule.
 * Each due callback is leased (next_attempt_at pushed past the timeout) before sending, so two
 * control planes never send it at once and a crash mid-send only delays the retry.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { uuidToId } from '../ids.js';
import { openStored, sealContext, SecretBoxError, type SecretBox } from '../secrets/index.js';
import { createSafeAgent, nextDelay, type RetryPolicy } from '../webhooks/index.js';
import { sendDelivery } from '../webhooks/send.js';

export interface CallbackOptions {
  allowPrivate: boolean;
  timeoutMs: number;
  retry: RetryPolicy;
}

interface DueCallback {
  job_seq: string;
  url: string;
  attempts: number;
  job_id: string;
  callback_secret: string | null;
  event_id: string | null;
  event_type: string | null;
  occurred_at: Date | null;
  data: string | null;
  traceparent: string | null;
}

export class JobCallbacks {
  private readonly agent: Dispatcher;

  constructor(
    private readonly pool: Pool,
    private readonly log: Logger,
    private readonly opts: CallbackOptions,
    private readonly secrets: SecretBox,
  ) {
    this.agent = createSafeAgent({ allowPrivate: opts.allowPrivate, connectTimeoutMs: opts.timeoutMs });
  }

  /** Sends the callbacks that are due now (up to `limit`); returns how many were attempted. */
  async deliverDue(limit = 10): Promise<number> {
    const leaseSec = Math.ceil(this.opts.timeoutMs / 1000) + 30;
    const { rows } = await this.pool.query<DueCallback>(
      `WITH due AS (
         UPDATE job_callbacks c SET next_attempt_at = now() + make_interval(secs => $2)
         WHERE c.job_seq IN (SELECT job_seq FROM job_callbacks WHERE state = 'pending' AND next_attempt_at <= now()
                             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING c.job_seq, c.url, c.attempts)
       SELECT due.job_seq::text AS job_seq, due.url, due.attempts, j.id AS job_id, j.callback_secret, j.event_id,
              e.type AS event_type, e.occurred_at, e.data::text AS data,
              COALESCE(e.traceparent, j.traceparent) AS traceparent
       FROM due JOIN jobs j ON j.seq = due.job_seq LEFT JOIN events e ON e.id = j.event_id`,
      [limit, leaseSec],
    );
    await Promise.all(rows.map((c) => this.deliver(c)));
    return rows.length;
  }

  private async deliver(c: DueCallback): Promise<void> {
    const attempt = c.attempts + 1;
    if (!c.event_id || !c.event_type || !c.occurred_at || c.data === null || !c.callback_secret) {
      await this.record(c.job_seq, attempt, 'failed', null, null, 'the job event or callback secret is missing');
      return;
    }
    let secret: string;
    try {
      secret = openStored(this.secrets, c.callback_secret, sealContext('jobs', c.job_id));
    } catch (err) {
      if (!(err instanceof SecretBoxError)) throw err;
      await this.record(c.job_seq, attempt, 'failed', null, null, `the callback secret does not open: ${err.message}`);
      return;
    }
    const r = await sendDelivery(
      this.agent,
      {
        deliveryId: c.job_id,
        eventId: uuidToId('evt', c.event_id),
        eventType: c.event_type,
        occurredAt: c.occurred_at,
        dataJson: c.data,
        attempt,
        url: c.url,
        secrets: [{ id: c.job_id, secret }],
        traceparent: c.traceparent,
      },
      { timeoutMs: this.opts.timeoutMs, allowPrivate: this.opts.allowPrivate, spanName: 'job callback' },
    );
    const log = this.log.child({ job_id: c.job_id, attempt });
    if (r.error === null) {
      log.info({ status: r.statusCode }, 'job callback delivered');
      await this.record(c.job_seq, attempt, 'delivered', r.statusCode, null, null);
      return;
    }
    const detail = `${r.error}${r.errorDetail ? `: ${r.errorDetail}` : ''}`;
    const delay = r.error === 'endpoint_gone' ? null : nextDelay(this.opts.retry, attempt, r.retryAfterMs);
    log.warn({ status: r.statusCode, error: detail, retry_in_ms: delay }, delay === null ? 'job callback failed for good' : 'job callback failed; will retry');
    await this.record(c.job_seq, attempt, delay === null ? 'failed' : 'pending', r.statusCode, delay, detail);
  }

  private async record(seq: string, attempts: number, state: 'pending' | 'delivered' | 'failed', status: number | null, delayMs: number | null, error: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE job_callbacks SET attempts = $2, state = $3, last_status = $4, last_error = $5,
         next_attempt_at = CASE WHEN $6::float8 IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $6::float8 / 1000) END,
         delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END
       WHERE job_seq = $1`,
      [seq, attempts, state, status, error, delayMs],
    );
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
