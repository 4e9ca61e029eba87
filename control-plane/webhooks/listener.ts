/**
 * One Postgres connection LISTENing on the webhook channels: the event outbox (new events to fan
 * out) and the delivery queue (new or replayed deliveries). After every (re)connect all handlers
 * run once, since notifications sent while disconnected are lost.
 */
import type { Logger } from '../../shared/index.js';
import type { Pool, PoolClient } from '../db/pool.js';

export class PgListener {
  private client: PoolClient | null = null;
  private running = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly handlers: Record<string, () => void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect(200);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    if (c) {
      await c.query('UNLISTEN *').catch(() => undefined);
      c.release();
    }
  }

  private async connect(backoff: number): Promise<void> {
    if (!this.running) return;
    let client: PoolClient | null = null;
    try {
      client = await this.pool.connect();
      const c = client;
      c.on('notification', (n) => this.handlers[n.channel]?.());
      c.on('error', (err) => {
        this.log.warn({ err }, 'webhook listener connection lost; reconnecting');
        if (this.client === c) this.client = null;
        c.release(err);
        this.schedule(200);
      });
      for (const channel of Object.keys(this.handlers)) await c.query(`LISTEN ${channel}`);
      if (!this.running) {
        c.release();
        return;
      }
      this.client = c;
      for (const h of Object.values(this.handlers)) h();
    } catch (err) {
      client?.release(err as Error);
      this.log.warn({ err }, 'webhook listener could not connect; retrying');
      this.schedule(Math.min(backoff * 2, 5000));
    }
  }

  private schedule(backoff: number): void {
    if (!this.running) return;
    this.retry = setTimeout(() => void this.connect(backoff), backoff);
    this.retry.unref();
  }
}
