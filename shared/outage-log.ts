/**
 * How a background loop reports a dependency being away (Postgres, NATS) without flooding the log:
 * one line when it starts failing (with the error), one "still failing" line a minute while it
 * lasts (the error's message, no stack), one line when it works again (how long, how many
 * failures). `Backoff` is the wait between the failing attempts.
 */
import type { Logger } from './logger.js';

/** Exponential backoff: `next()` is the wait before the next attempt, doubling up to `maxMs`; `reset()` after a success. */
export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5_000,
  ) {
    this.current = initialMs;
  }

  next(): number {
    const d = this.current;
    this.current = Math.min(this.current * 2, this.maxMs);
    return d;
  }

  reset(): void {
    this.current = this.initialMs;
  }
}

export interface OutageLogOptions {
  /** How often "still failing" is logged while the outage lasts (default one minute). */
  repeatMs?: number;
  now?: () => number;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class OutageLog {
  private since: number | null = null;
  private failures = 0;
  private lastReport = 0;
  private readonly repeatMs: number;
  private readonly now: () => number;

  /** `what` names the work in the lines: "outbox relay" → "outbox relay failing; retrying with backoff". */
  constructor(
    private readonly log: Logger,
    private readonly what: string,
    opts: OutageLogOptions = {},
  ) {
    this.repeatMs = opts.repeatMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  get down(): boolean {
    return this.since !== null;
  }

  /** An attempt failed: logs only when this starts an outage, or once per `repeatMs` while it lasts. */
  failed(err: unknown): void {
    const now = this.now();
    this.failures++;
    if (this.since === null) {
      this.since = now;
      this.lastReport = now;
      this.log.warn({ err }, `${this.what} failing; retrying with backoff`);
      return;
    }
    if (now - this.lastReport >= this.repeatMs) {
      this.lastReport = now;
      this.log.warn({ failures: this.failures, down_for_ms: now - this.since, error: messageOf(err) }, `${this.what} still failing`);
    }
  }

  /** An attempt worked: logs the recovery if there was an outage. */
  ok(): void {
    if (this.since === null) return;
    this.log.info({ failures: this.failures, down_for_ms: this.now() - this.since }, `${this.what} recovered`);
    this.since = null;
    this.failures = 0;
  }
}
