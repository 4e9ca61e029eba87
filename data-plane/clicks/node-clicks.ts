/**
 * Click capture on the node's main thread: the visitor salts, the durable spool the encoded batches
 * land in, and the shipper that sends them to JetStream. The collector (click-collector.ts) encodes
 * the clicks the serving threads wrote into their rings; `accept` spools each batch; `stop` flushes
 * (SIGTERM: ship what can be shipped within the grace time, keep the rest on disk for the next start).
 *
 * A batch the spool cannot write (CLICK_DIR full or unwritable) is held in memory and retried, in
 * order, with later batches queued behind it. Held batches stay in the backlog (CLICK_BACKLOG_MAX_MB),
 * so memory is bounded: once it is full the collector drops new batches, counted. A held
 * batch is counted as dropped only when it is let go (a stop that still cannot write it).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../shared/index.js';
import { ClickBacklog } from './click-backlog.js';
import { ClickShipper } from './click-shipper.js';
import { ClickSpool } from './click-spool.js';
import { VisitorSalts } from './visitor-salts.js';

export interface NodeClicksOptions {
  dir: string;
  maxBytes: number;
  prefix: string;
  nodeId: string;
  nats: () => Promise<NatsConnection>;
  log: Logger;
  saltReplicas?: number;
  fsync?: boolean;
  /** Most bytes of batches posted by the serving threads and not yet spooled (default 64 MB). */
  backlogBytes?: number;
  /** New salts (the collector reads `salts.current` itself). */
  onSalts?(salts: ReadonlyMap<number, Uint8Array>): void;
}

export interface ClickCounters {
  /** Clicks received from the workers and spooled. */
  spooled: number;
  shipped: number;
  dropped: number;
  shipErrors: number;
}

interface HeldBatch {
  batchId: string;
  data: Uint8Array;
  events: number;
}

/** Retry of held batches: first after this, doubling to the max while the spool stays unwritable. */
const HELD_RETRY_MS = 250;
const HELD_RETRY_MAX_MS = 2000;

export class NodeClicks {
  readonly spool: ClickSpool;
  readonly salts: VisitorSalts;
  /** Shared with the serving threads (pass `backlog.buffer` to them). */
  readonly backlog: ClickBacklog;
  private readonly shipper: ClickShipper;
  private readonly pending = new Set<Promise<void>>();
  readonly counters: ClickCounters = { spooled: 0, shipped: 0, dropped: 0, shipErrors: 0 };
  /** Batches the spool could not write, oldest first, waiting for a retry. */
  private readonly held: HeldBatch[] = [];
  private heldEventCount = 0;
  private failingSince: number | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = HELD_RETRY_MS;
  private retrying: Promise<void> | null = null;
  private backlogDropsSeen = 0;
  private stopping = false;

  constructor(private readonly opts: NodeClicksOptions) {
    const log = opts.log;
    this.backlog = ClickBacklog.create(opts.backlogBytes ?? 64 * 1024 * 1024);
    this.spool = ClickSpool.open({
      dir: `${opts.dir}/spool`,
      maxBytes: opts.maxBytes,
      log: log.child({ module: 'click-spool' }),
      ...(opts.fsync === undefined ? {} : { fsync: opts.fsync }),
      onDrop: (events) => (this.counters.dropped += events),
    });
    this.salts = new VisitorSalts({
      dir: `${opts.dir}/salts`,
      prefix: opts.prefix,
      nats: opts.nats,
      log: log.child({ module: 'visitor-salts' }),
      replicas: opts.saltReplicas ?? 1,
      onChange: (s) => opts.onSalts?.(s),
    });
    this.shipper = new ClickShipper({
      spool: this.spool,
      nats: opts.nats,
      prefix: opts.prefix,
      nodeId: opts.nodeId,
      log: log.child({ module: 'click-shipper' }),
      onShipped: (events) => (this.counters.shipped += events),
      onError: () => this.counters.shipErrors++,
    });
  }

  /** Loads the salts (local first: workers can hash before NATS answers) and starts shipping. */
  start(): void {
    this.salts.start();
    this.shipper.start();
  }

  /** Clicks held in memory because the spool could not write them. */
  get heldEvents(): number {
    return this.heldEventCount;
  }

  /** True while the spool cannot be written (batches are held in memory). */
  get spoolFailing(): boolean {
    return this.failingSince !== null;
  }

  /** A worker's batch: spool it (durable once the promise resolves); held in memory if that fails. */
  accept(batchId: string, data: Uint8Array, events: number): void {
    const b: HeldBatch = { batchId, data, events };
    if (this.held.length > 0) {
      this.hold(b); // behind the ones already waiting: the retry writes them in order
      return;
    }
    const p = this.write(b).then((ok) => {
      if (!ok) this.hold(b);
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** One attempt to spool `b`; its bytes leave the backlog only once it is on disk. */
  private async write(b: HeldBatch): Promise<boolean> {
    try {
      await this.spool.append(b.batchId, b.data, b.events);
    } catch (err) {
      if (this.failingSince === null) {
        this.failingSince = Date.now();
        this.backlogDropsSeen = this.backlog.droppedEvents;
        this.opts.log.error(
          { err, batchId: b.batchId, events: b.events, backlogBytes: this.backlog.bytes },
          'click spool not writable (CLICK_DIR full?): holding click batches in memory up to CLICK_BACKLOG_MAX_MB and retrying',
        );
      }
      return false;
    }
    this.counters.spooled += b.events;
    this.backlog.done(b.data.byteLength);
    return true;
  }

  private hold(b: HeldBatch): void {
    this.held.push(b);
    this.heldEventCount += b.events;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== null || this.retrying !== null || this.stopping) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.retrying = this.retryHeld().finally(() => {
        this.retrying = null;
        if (this.held.length > 0) this.scheduleRetry();
      });
    }, this.retryMs);
    this.retryTimer.unref();
  }

  /** Writes held batches oldest first until one fails (then backs off) or none is left. */
  private async retryHeld(): Promise<void> {
    while (this.held.length > 0) {
      const b = this.held[0]!;
      if (!(await this.write(b))) {
        this.retryMs = Math.min(this.retryMs * 2, HELD_RETRY_MAX_MS);
        const dropped = this.backlog.droppedEvents;
        if (dropped > this.backlogDropsSeen) {
          this.opts.log.error(
            { droppedSince: dropped - this.backlogDropsSeen, held: this.heldEventCount, backlogBytes: this.backlog.bytes },
            'click backlog full while the spool is not writable: new clicks are being dropped (counted in clicks_dropped_total)',
          );
          this.backlogDropsSeen = Number.POSITIVE_INFINITY; // once per failing period
        }
        return;
      }
      this.held.shift();
      this.heldEventCount -= b.events;
    }
    this.retryMs = HELD_RETRY_MS;
    if (this.failingSince !== null) {
      this.opts.log.info({ failedMs: Date.now() - this.failingSince }, 'click spool writable again: held click batches spooled');
      this.failingSince = null;
    }
  }

  /** After the workers flushed: wait for their batches to be on disk, ship for up to `flushMs`, stop. */
  async stop(flushMs: number): Promise<void> {
    await Promise.all([...this.pending]);
    this.stopping = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.retrying;
    await this.retryHeld();
    if (this.held.length > 0) {
      // the last chance to write them has passed: now they are lost, and counted
      this.counters.dropped += this.heldEventCount;
      this.opts.log.error({ droppedEvents: this.heldEventCount, batches: this.held.length }, 'click spool still not writable at stop: held clicks dropped');
      for (const b of this.held.splice(0)) this.backlog.done(b.data.byteLength);
      this.heldEventCount = 0;
    }
    await this.shipper.stop();
    const empty = await this.shipper.flush(flushMs);
    this.salts.stop();
    if (!empty) this.opts.log.warn({ spooled: this.spool.size }, 'click batches left in the spool; they ship after the next start');
  }
}
