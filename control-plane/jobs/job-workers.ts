/**
 * The bulk-job workers of one control plane: N loops claiming batches (every control plane runs
 * them; SKIP LOCKED shares the work), one loop sending due callbacks, and housekeeping (staged
 * items of finished jobs, old jobs). stop() lets in-flight batches commit, then returns.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import { Backoff, OutageLog, type Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import type { SecretBox } from '../secrets/index.js';
import { JobCallbacks, type CallbackOptions } from './job-callbacks.js';
import { runNextBatch, type BatchContext } from './process-batch.js';

export interface JobWorkersOptions {
  pool: Pool;
  log: Logger;
  /** SHORT_URL_SCHEME, for short URLs in results. */
  scheme: string;
  workers: number;
  pollMs: number;
  maxAttempts: number;
  /** Finished jobs (with errors and results) are deleted after this many days. */
  retentionDays: number;
  callbacks: CallbackOptions;
  /** Opens the sealed callback secrets (SECRETS_KEY). */
  secrets: SecretBox;
  registry?: Registry;
}

const HOUSEKEEPING_MS = 60_000;
const PURGE_CHUNK = 50_000;

export class JobWorkers {
  private running = false;
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private readonly ctx: BatchContext;
  private readonly callbacks: JobCallbacks;
  private readonly items: Counter<'result'>;
  private readonly batches: Counter<'mode'>;
  private readonly batchSeconds: Histogram;
  /** One for all batch workers: an outage is logged once, not once per worker. */
  private readonly batchOutage: OutageLog;

  constructor(private readonly opts: JobWorkersOptions) {
    this.ctx = { pool: opts.pool, log: opts.log, scheme: opts.scheme, maxAttempts: opts.maxAttempts };
    this.callbacks = new JobCallbacks(opts.pool, opts.log.child({ module: 'job-callbacks' }), opts.callbacks, opts.secrets);
    this.batchOutage = new OutageLog(opts.log, 'job workers');
    const registers = opts.registry ? [opts.registry] : [];
    this.items = new Counter({ name: 'linkplane_job_items_total', help: 'bulk job items processed, by result', labelNames: ['result'], registers });
    this.batches = new Counter({ name: 'linkplane_job_batches_total', help: 'bulk job batches committed, by mode', labelNames: ['mode'], registers });
    this.batchSeconds = new Histogram({
      name: 'linkplane_job_batch_duration_seconds',
      help: 'time to process and commit one batch',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    for (let i = 0; i < this.opts.workers; i++) this.loops.push(this.batchLoop(i));
    this.loops.push(this.callbackLoop());
    this.loops.push(this.housekeepingLoop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    for (const w of this.wakers) w();
    await Promise.all(this.loops);
    this.loops = [];
    await this.callbacks.close();
  }

  /** Wakes idle loops now (e.g. right after this process accepted a job). */
  wake(): void {
    for (const w of this.wakers) w();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async batchLoop(n: number): Promise<void> {
    const log = this.opts.log.child({ worker: n });
    const backoff = new Backoff(this.opts.pollMs, 5_000);
    while (this.running) {
      const t0 = performance.now();
      try {
        const r = await runNextBatch(this.ctx);
        backoff.reset();
        this.batchOutage.ok();
        if (!r) {
          await this.sleep(this.opts.pollMs);
          continue;
        }
        this.batchSeconds.observe((performance.now() - t0) / 1000);
        this.batches.inc({ mode: r.mode });
        this.items.inc({ result: 'succeeded' }, r.succeeded);
        this.items.inc({ result: 'failed' }, r.failed);
        if (r.finished) {
          log.info({ job_id: r.finished.id, status: r.finished.status, total: r.finished.total, succeeded: r.finished.succeeded, failed: r.finished.failed }, 'job finished');
          this.wake(); // a callback may be due
        }
      } catch (err) {
        if (!this.running) break;
        this.batchOutage.failed(err);
        await this.sleep(backoff.next());
      }
    }
  }

  private async callbackLoop(): Promise<void> {
    const backoff = new Backoff(1_000, 10_000);
    const outage = new OutageLog(this.opts.log, 'job callbacks');
    while (this.running) {
      try {
        const n = await this.callbacks.deliverDue();
        backoff.reset();
        outage.ok();
        if (n === 0) await this.sleep(Math.max(this.opts.pollMs, 250));
      } catch (err) {
        if (!this.running) break;
        outage.failed(err);
        await this.sleep(backoff.next());
      }
    }
  }

  private async housekeepingLoop(): Promise<void> {
    const outage = new OutageLog(this.opts.log, 'job housekeeping');
    while (this.running) {
      try {
        await this.housekeeping();
        outage.ok();
      } catch (err) {
        if (this.running) outage.failed(err);
      }
      await this.sleep(HOUSEKEEPING_MS);
    }
  }

  /** Drops staged items of finished jobs (chunked) and jobs past retention. */
  async housekeeping(): Promise<void> {
    const pool = this.opts.pool;
    const finished = await pool.query<{ seq: string }>(
      `SELECT seq::text AS seq FROM jobs WHERE finished_at IS NOT NULL AND items_purged_at IS NULL ORDER BY seq LIMIT 10`,
    );
    for (const { seq } of finished.rows) {
      for (;;) {
        const r = await pool.query(
          `DELETE FROM job_items WHERE job_seq = $1 AND idx IN (SELECT idx FROM job_items WHERE job_seq = $1 ORDER BY idx LIMIT $2)`,
          [seq, PURGE_CHUNK],
        );
        if ((r.rowCount ?? 0) < PURGE_CHUNK) break;
        if (this.stopping) return;
      }
      await pool.query('UPDATE jobs SET items_purged_at = now() WHERE seq = $1', [seq]);
    }
    const old = await pool.query<{ seq: string }>(
      `SELECT seq::text AS seq FROM jobs WHERE finished_at < now() - make_interval(days => $1) LIMIT 100`,
      [this.opts.retentionDays],
    );
    for (const { seq } of old.rows) {
      await pool.query('DELETE FROM job_errors WHERE job_seq = $1', [seq]);
      await pool.query('DELETE FROM job_batches WHERE job_seq = $1', [seq]);
      await pool.query('DELETE FROM job_callbacks WHERE job_seq = $1', [seq]);
      await pool.query('DELETE FROM jobs WHERE seq = $1', [seq]);
    }
  }
}
