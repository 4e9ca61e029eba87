/**
 * Ships spooled click batches to `<prefix>.clicks.<nodeId>`: oldest first, several in flight, each
 * with `Nats-Msg-Id` = its batch id (a batch re-sent after a lost PubAck is stored once), and
 * removed from the spool only after its PubAck. NATS away or the stream full → the batches stay
 * and are retried with backoff; the spool (bounded) absorbs the outage.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureClicksStream, natsNames, type Logger } from '../../shared/index.js';
import type { ClickSpool, SpoolEntry } from './click-spool.js';

export interface ClickShipperOptions {
  spool: ClickSpool;
  /** Resolves once NATS is connected. */
  nats: () => Promise<NatsConnection>;
  prefix: string;
  nodeId: string;
  log: Logger;
  /** Batches published at once. */
  inFlight?: number;
  publishTimeoutMs?: number;
  onShipped?(events: number, batches: number): void;
  onError?(): void;
}

export class ClickShipper {
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeSleep: (() => void) | null = null;
  private streamChecked: NatsConnection | null = null;
  private readonly subject: string;
  private failing = false;

  constructor(private readonly opts: ClickShipperOptions) {
    this.subject = natsNames(opts.prefix).clicksSubject(opts.nodeId);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the round in progress. */
  async stop(): Promise<void> {
    this.running = false;
    this.wakeSleep?.();
    this.opts.spool.wake();
    await this.loop;
  }

  /**
   * Ships what the spool holds until it is empty or `timeoutMs` passed (SIGTERM: whatever is left
   * stays on disk and goes out after the restart). Returns true if the spool is empty.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.opts.spool.size.batches > 0 && Date.now() < deadline) {
      const shipped = await Promise.race([
        this.round().catch(() => 0),
        new Promise<number>((r) => setTimeout(() => r(0), Math.max(1, deadline - Date.now()))),
      ]);
      if (shipped === 0) await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, deadline - Date.now()))));
    }
    return this.opts.spool.size.batches === 0;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeSleep = null;
        resolve();
      }, ms);
      this.wakeSleep = () => {
        clearTimeout(t);
        this.wakeSleep = null;
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      try {
        await this.opts.spool.waitForBatch(1_000);
        if (!this.running) break;
        const shipped = await this.round();
        if (shipped > 0 && this.failing) {
          this.failing = false;
          this.opts.log.info({ spooled: this.opts.spool.size }, 'click shipping resumed');
        }
        backoff = 250;
      } catch (err) {
        if (!this.failing) {
          this.failing = true;
          this.opts.log.warn({ err, spooled: this.opts.spool.size }, 'click shipping failed; batches stay spooled, retrying');
        }
        this.opts.onError?.();
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /** Publishes up to `inFlight` of the oldest batches; returns how many were acknowledged. Throws on the first failure. */
  private async round(): Promise<number> {
    const batch = this.opts.spool.take(this.opts.inFlight ?? 16);
    if (batch.length === 0) return 0;
    let failure: unknown = null;
    let ok = 0;
    let events = 0;
    try {
      const nc = await Promise.race([
        this.opts.nats(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('NATS not connected')), 2_000).unref()),
      ]);
      if (this.streamChecked !== nc) {
        await ensureClicksStream(await jetstreamManager(nc), this.opts.prefix, {}, 'use');
        this.streamChecked = nc;
      }
      const js = jetstream(nc);
      await Promise.all(
        batch.map(async (e: SpoolEntry) => {
          try {
            const data = await this.opts.spool.read(e);
            await js.publish(this.subject, data, { msgID: e.batchId, timeout: this.opts.publishTimeoutMs ?? 5_000 });
            await this.opts.spool.done(e);
            ok++;
            events += e.events;
          } catch (err) {
            if ((err as { code?: string }).code === 'ENOENT') {
              await this.opts.spool.done(e); // dropped from a full spool meanwhile
              return;
            }
            this.opts.spool.release(e);
            failure ??= err;
          }
        }),
      );
    } catch (err) {
      for (const e of batch) this.opts.spool.release(e);
      throw err;
    }
    if (ok > 0) this.opts.onShipped?.(events, ok);
    if (failure) throw failure;
    return ok;
  }
}
