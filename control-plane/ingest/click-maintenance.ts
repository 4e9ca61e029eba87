/**
 * Keeps the click partitions in shape: days ahead created, days past CLICK_RETENTION_DAYS
 * dropped. Runs at start and then hourly; any control plane may run it (serialized in Postgres).
 */
import type { Logger } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { createPartitionsAhead, dropExpiredPartitions } from './click-partitions.js';

export interface ClickMaintenanceOptions {
  pool: Pool;
  log: Logger;
  retentionDays: number;
  aheadDays: number;
  everyMs?: number;
}

export class ClickMaintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly opts: ClickMaintenanceOptions) {}

  /** One round: create ahead, drop expired. Errors are logged, not thrown. */
  runOnce(now = Date.now()): Promise<void> {
    this.running ??= (async () => {
      try {
        await createPartitionsAhead(this.opts.pool, this.opts.aheadDays, now);
        await dropExpiredPartitions(this.opts.pool, this.opts.retentionDays, now, this.opts.log);
      } catch (err) {
        this.opts.log.warn({ err }, 'click partition maintenance failed; retrying at the next round');
      }
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(): void {
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.opts.everyMs ?? 3_600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
