/**
 * The dispatcher: keeps up to `slots` deliveries in flight. Two loops run side by side, each on
 * its own Postgres connection (synchronous_commit off, see queue.ts): the claimer leases due work
 * for the free slots, the recorder writes the attempts finished since its last flush. Sends
 * happen outside any transaction. A flush wakes the claimer (the endpoints' room is free again); a NOTIFY from the
 * fan-out or a replay wakes it for new work; retries falling due are found by polling.
 */
import type { Dispatcher } from 'undici';
import type { SecretBox } from '../secrets/index.js';
import { Backoff, OutageLog, Waker, type Logger } from '../../shared/index.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { WebhookMetrics } from './metrics.js';
import type { AttemptResult } from './outcome.js';
import { claimDeliveries, recordResults, type ClaimedDelivery, type FinishedAttempt } from './queue.js';
import type { RetryPolicy } from './retry-policy.js';
import { sendDelivery } from './send.js';

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
  /** Opens the sealed signing secrets (SECRETS_KEY). */
  secrets: SecretBox;
  /** How long finished attempts are gathered before one transaction records them (default 5 ms). */
  coalesceMs?: number;
}

const MAX_RECORD_BATCH = 500;

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WebhookDispatcher {
  /** A lease outlives the longest possible attempt with room to record it. */
  readonly leaseMs: number;
  private running = false;
  private loops: Promise<void>[] = [];
  private inflight = 0;
  private results: FinishedAttempt[] = [];
  private claimHint = true;
  /** The last claim filled every free slot: more may be due as soon as a slot frees. */
  private slotBound = false;
  private readonly claimWaker = new Waker();
  private readonly recordWaker = new Waker();
  private readonly conns: Record<'claim' | 'record', PoolClient | null> = { claim: null, record: null };

  constructor(private readonly opts: DispatcherOptions) {
    this.leaseMs = 2 * opts.timeoutMs + 1000;
  }

  start(): void {
    if (this.running || this.opts.slots <= 0) return;
    this.running = true;
    this.loops = [this.claimLoop(), this.recordLoop()];
  }

  /** Stops leasing, lets in-flight attempts finish (each bounded by the timeout) and records them. */
  async stop(): Promise<void> {
    this.running = false;
    this.claimWaker.wake();
    this.recordWaker.wake();
    await Promise.all(this.loops);
    for (const which of ['claim', 'record'] as const) {
      const c = this.conns[which];
      this.conns[which] = null;
      if (c) {
        await c.query('RESET synchronous_commit').catch(() => undefined);
        c.release();
      }
    }
  }

  /** The loop's own connection; queue writes on it do not wait for the WAL flush (queue.ts). */
  private async conn(which: 'claim' | 'record'): Promise<PoolClient> {
    const held = this.conns[which];
    if (held) return held;
    const c = await this.opts.pool.connect();
    c.on('error', () => undefined); // surfaces on the next query, which drops the connection
    try {
      await c.query('SET synchronous_commit TO off');
    } catch (err) {
      c.release(err as Error);
      throw err;
    }
    this.conns[which] = c;
    return c;
  }

  /** After a failed query: destroy the connection (a new one is taken next time). */
  private dropConn(which: 'claim' | 'record', err: unknown): void {
    const c = this.conns[which];
    this.conns[which] = null;
    c?.release(err instanceof Error ? err : new Error(String(err)));
  }

  /** New work may be due (NOTIFY, replay). */
  wake(): void {
    this.claimHint = true;
    this.claimWaker.wake();
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
        this.recordWaker.wake();
        // a free slot is work for the claimer only if slots (not endpoint room or an empty queue) limited it
        if (this.slotBound) this.wake();
      });
  }

  /** Leases due deliveries for free slots; waits for a flush, a NOTIFY or the poll timer in between. */
  private async claimLoop(): Promise<void> {
    const { log, metrics } = this.opts;
    const backoff = new Backoff(100, 5_000);
    const outage = new OutageLog(log, 'webhook claim');
    let nextPoll = 0;
    while (this.running) {
      const free = this.opts.slots - this.inflight;
      if (free <= 0 || !(this.claimHint || Date.now() >= nextPoll)) {
        await this.claimWaker.wait(free <= 0 ? this.opts.pollMs : nextPoll - Date.now());
        continue;
      }
      this.claimHint = false;
      const started = performance.now();
      try {
        const claimed = await claimDeliveries(await this.conn('claim'), { limit: free, endpointConcurrency: this.opts.endpointConcurrency, leaseMs: this.leaseMs, secrets: this.opts.secrets });
        backoff.reset();
        outage.ok();
        metrics?.tickDuration.observe({ kind: 'claim' }, (performance.now() - started) / 1000);
        metrics?.tickSize.observe({ kind: 'claimed' }, claimed.length);
        this.slotBound = claimed.length === free;
        for (const d of claimed) this.send(d);
        // nothing due: sleep until the poll; otherwise until a flush frees room (or the poll)
        if (claimed.length === 0) nextPoll = Date.now() + this.opts.pollMs;
        await this.claimWaker.wait(this.opts.pollMs);
        if (claimed.length > 0) this.claimHint = true;
      } catch (err) {
        this.dropConn('claim', err);
        this.claimHint = true;
        if (this.running) outage.failed(err);
        await delay(backoff.next());
      }
    }
  }

  /** Writes finished attempts in batches; runs until stopped and nothing is left in flight. */
  private async recordLoop(): Promise<void> {
    const { log, metrics } = this.opts;
    const coalesceMs = this.opts.coalesceMs ?? 5;
    const backoff = new Backoff(100, 5_000);
    const outage = new OutageLog(log, 'recording webhook attempts');
    for (;;) {
      if (this.results.length === 0) {
        if (!this.running && this.inflight === 0) return;
        await this.recordWaker.wait(1000);
        if (this.results.length > 0 && this.inflight > 0) await delay(coalesceMs);
        continue;
      }
      const batch = this.results.splice(0, MAX_RECORD_BATCH);
      const started = performance.now();
      try {
        const summary = await recordResults(await this.conn('record'), batch, {
          policy: this.opts.policy, disableAfterMs: this.opts.disableAfterMs, random: this.opts.random,
        });
        backoff.reset();
        outage.ok();
        metrics?.tickDuration.observe({ kind: 'record' }, (performance.now() - started) / 1000);
        metrics?.tickSize.observe({ kind: 'recorded' }, batch.length);
        metrics?.deliveries.inc({ status: 'succeeded' }, summary.succeeded);
        metrics?.deliveries.inc({ status: 'failed' }, summary.failed);
        metrics?.deliveries.inc({ status: 'dead' }, summary.dead);
        if (summary.dead > 0) log.info({ dead: summary.dead }, 'webhook deliveries dead-lettered');
        if (summary.stale > 0) log.warn({ stale: summary.stale }, 'attempts finished after their lease passed to another dispatcher');
        for (const e of summary.disabledEndpoints) {
          metrics?.endpointsDisabled.inc({ reason: e.reason });
          log.warn({ endpoint_id: e.id, reason: e.reason }, 'webhook endpoint disabled');
        }
        this.claimHint = true;
        this.claimWaker.wake();
      } catch (err) {
        this.dropConn('record', err);
        this.results.unshift(...batch);
        outage.failed(err);
        await delay(backoff.next());
      }
    }
  }
}
