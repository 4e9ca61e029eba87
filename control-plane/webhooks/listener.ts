/**
 * One Postgres connection LISTENing on the webhook channels: the event outbox (new events to fan
 * out) and the delivery queue (new or replayed deliveries). After every (re)connect all handlers
 * run once, since notifications sent while disconnected are lost.
 */
import { OutageLog, type Logger } from '../../shared/index.js';
import type { Pool, PoolClient } from '../db/pool.js';

/** Gives a client back to the pool once, whichever comes first: stop, a connection error, a failed LISTEN. */
function releaser(c: PoolClient): (err?: Error) => void {
  let released = false;
  return (err) => {
    if (released) return;
    released = true;
    c.release(err);
  };
}

export class PgListener {
  private client: { c: PoolClient; release: (err?: Error) => void } | null = null;
  private running = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly outage: OutageLog;

  constructor(
    private readonly pool: Pool,
    private readonly handlers: Record<string, () => void>,
    log: Logger,
  ) {
    this.outage = new OutageLog(log, 'webhook listener');
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect(200);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retry) clearTimeout(this.retry);
    const held = this.client;
    this.client = null;
    if (held) {
      // the connection may break meanwhile (Postgres stopping too): its error handler then releases first
      await held.c.query('UNLISTEN *').catch(() => undefined);
      held.release();
    }
  }

  private async connect(backoff: number): Promise<void> {
    if (!this.running) return;
    let release: ((err?: Error) => void) | null = null;
    try {
      const c = await this.pool.connect();
      const held = { c, release: releaser(c) };
      release = held.release;
      c.on('notification', (n) => this.handlers[n.channel]?.());
      c.on('error', (err) => {
        const wasCurrent = this.client === held;
        if (wasCurrent) this.client = null;
        held.release(err);
        if (!this.running) return; // stopping: the connection going away is expected
        this.outage.failed(err);
        if (wasCurrent) this.schedule(200);
      });
      for (const channel of Object.keys(this.handlers)) await c.query(`LISTEN ${channel}`);
      if (!this.running) {
        held.release();
        return;
      }
      this.client = held;
      this.outage.ok();
      for (const h of Object.values(this.handlers)) h();
    } catch (err) {
      release?.(err as Error);
      if (!this.running) return;
      this.outage.failed(err);
      this.schedule(Math.min(backoff * 2, 5000));
    }
  }

  private schedule(backoff: number): void {
    if (!this.running) return;
    this.retry = setTimeout(() => void this.connect(backoff), backoff);
    this.retry.unref();
  }
}
