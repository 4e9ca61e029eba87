/**
 * The dispatcher: keeps up to `slots` deliveries in flight. Each tick is one transaction that
 * records the attempts finished since the last tick and leases new due work for the free slots
 * (queue.ts); sends happen outside any transaction. A result arriving wakes the loop (its slot and
 * its endpoint's room are free again); a NOTIFY from the fan-out or a replay wakes it for new
 * work; retries falling due are found by polling.
 */
import type { Dispatcher } from 'undici';
import type { Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { withTx } from '../db/tx.js';
import type { WebhookMetrics } from './metrics.js';
import type { AttemptResult } from './outcome.js';
import { claimDeliveries, recordResults, type ClaimedDelivery, type FinishedAttempt } from './queue.js';
import type { RetryPolicy } from './retry-policy.js';
import { sendDelivery } from './send.js';
import { Waker } from './waker.js';

export interface DispatcherOptions {
  pool: Pool;
  /** The SSRF-safe HTTP agent (safe-agent.ts). */
  agent: Dispatcher;
  log: Logger;
  /** Deliveries in flight at once in this process. */
  slots: number;
  /** Per-endpoint in-flight limit (all processes) when the endpoint sets none. */
  endpointConcurrency: number;
  timeoutMs: number;
  allowPrivate: boolean;
  policy: RetryPolicy;
  disableAfterMs: number;
  pollMs: number;
  metrics?: WebhookMetrics;
  random?: () => number;
  /** How long finished attempts are gathered before one transaction records them (default 2 ms). */
  coalesceMs?: number;
}

const MAX_RECORD_BATCH = 500;

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WebhookDispatcher {
  /** A lease outlives the longest possible attempt with room to record it. */
  readonly leaseMs: number;
  private running = false;
  private loop: Promise<void> | null = null;
  private inflight = 0;
  private results: FinishedAttempt[] = [];
  private claimHint = true;
  private readonly waker = new Waker();

  constructor(private readonly opts: DispatcherOptions) {
    this.leaseMs = 2 * opts.timeoutMs + 1000;
  }

  start(): void {
    if (this.running || this.opts.slots <= 0) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops leasing, lets in-flight attempts finish (each bounded by the timeout) and records them. */
  async stop(): Promise<void> {
    this.running = false;
    this.waker.wake();
    await this.loop;
  }

  /** New work may be due (NOTIFY, replay). */
  wake(): void {
    this.claimHint = true;
    this.waker.wake();
  }

  get inFlight(): number {
    return this.inflight;
  }

  private send(d: ClaimedDelivery): void {
    this.inflight++;
    this.opts.metrics?.inFlight.inc();
    void sendDelivery(this.opts.agent, d, { timeoutMs: this.opts.timeoutMs, allowPrivate: this.opts.allowPrivate })
      .catch((err: unknown): AttemptResult => ({
        startedAt: new Date(), durationMs: 0, statusCode: null, error: 'network_error',
        errorDetail: err instanceof Error ? err.message : String(err), responseBody: null, retryAfterMs: null,
      }))
      .then((result) => {
        this.results.push({ delivery: d, result });
        this.opts.metrics?.attempts.inc({ result: result.error ?? 'ok' });
        this.opts.metrics?.attemptDuration.observe(result.durationMs / 1000);
        this.opts.log.debug({ delivery_id: d.deliveryId, attempt: d.attempt, status: result.statusCode, error: result.error, ms: result.durationMs }, 'attempt finished');
      })
      .finally(() => {
        this.inflight--;
        this.opts.metrics?.inFlight.dec();
        this.claimHint = true;
        this.waker.wake();
      });
  }

  private async run(): Promise<void> {
    const { pool, log, metrics } = this.opts;
    const coalesceMs = this.opts.coalesceMs ?? 2;
    let backoff = 100;
    let nextPoll = 0;
    for (;;) {
      if (!this.running && this.inflight === 0 && this.results.length === 0) return;
      const free = this.running ? this.opts.slots - this.inflight : 0;
      const claim = free > 0 && (this.claimHint || Date.now() >= nextPoll);
      if (this.results.length === 0 && !claim) {
        await this.waker.wait(this.running ? nextPoll - Date.now() : 1000);
        if (this.results.length > 0 && this.inflight > 0) await delay(coalesceMs);
        continue;
      }
      const batch = this.results.splice(0, MAX_RECORD_BATCH);
      this.claimHint = false;
      try {
        const { claimed, summary } = await withTx(pool, async (tx) => {
          const summary = await recordResults(tx, batch, { policy: this.opts.policy, disableAfterMs: this.opts.disableAfterMs, random: this.opts.random });
          const claimed = claim ? await claimDeliveries(tx, { limit: free, endpointConcurrency: this.opts.endpointConcurrency, leaseMs: this.leaseMs }) : [];
          return { claimed, summary };
        });
        backoff = 100;
        if (batch.length > 0) {
          metrics?.deliveries.inc({ status: 'succeeded' }, summary.succeeded);
          metrics?.deliveries.inc({ status: 'failed' }, summary.failed);
          metrics?.deliveries.inc({ status: 'dead' }, summary.dead);
          if (summary.dead > 0) log.info({ dead: summary.dead }, 'webhook deliveries dead-lettered');
          if (summary.stale > 0) log.warn({ stale: summary.stale }, 'attempts finished after their lease passed to another dispatcher');
          for (const e of summary.disabledEndpoints) {
            metrics?.endpointsDisabled.inc({ reason: e.reason });
            log.warn({ endpoint_id: e.id, reason: e.reason }, 'webhook endpoint disabled');
          }
        }
        if (claim) {
          if (claimed.length > 0) this.claimHint = true;
          else nextPoll = Date.now() + this.opts.pollMs;
        }
        for (const d of claimed) this.send(d);
      } catch (err) {
        this.results.unshift(...batch);
        if (claim) this.claimHint = true;
        log.warn({ err }, 'webhook dispatcher tick failed; retrying');
        await delay(backoff);
        backoff = Math.min(backoff * 2, 5000);
        continue;
      }
      if (this.results.length === 0) {
        await this.waker.wait(this.claimHint ? this.opts.pollMs : nextPoll - Date.now());
      }
      if (this.results.length > 0 && this.inflight > 0) await delay(coalesceMs);
    }
  }
}
