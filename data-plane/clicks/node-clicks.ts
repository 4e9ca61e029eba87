/**
 * Click capture on the node's main thread: the salts the workers hash with, the durable spool the
 * workers' batches land in, and the shipper that sends them to JetStream. Workers post
 * `{type: 'clicks'}` messages (see worker-clicks.ts); `accept` spools them; `stop` flushes (SIGTERM:
 * ship what can be shipped within the grace time, keep the rest on disk for the next start).
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
  /** New salts for the workers. */
  onSalts(salts: ReadonlyMap<number, Uint8Array>): void;
}

export interface ClickCounters {
  /** Clicks received from the workers and spooled. */
  spooled: number;
  shipped: number;
  dropped: number;
  shipErrors: number;
}

export class NodeClicks {
  readonly spool: ClickSpool;
  readonly salts: VisitorSalts;
  /** Shared with the serving threads (pass `backlog.buffer` to them). */
  readonly backlog: ClickBacklog;
  private readonly shipper: ClickShipper;
  private readonly pending = new Set<Promise<void>>();
  readonly counters: ClickCounters = { spooled: 0, shipped: 0, dropped: 0, shipErrors: 0 };

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
      onChange: (s) => opts.onSalts(s),
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

  /** A worker's batch: spool it (durable once the promise resolves). */
  accept(batchId: string, data: Uint8Array, events: number): void {
    const bytes = data.byteLength;
    const p = this.spool.append(batchId, data, events).then(
      () => {
        this.counters.spooled += events;
        this.backlog.done(bytes);
      },
      (err: unknown) => {
        this.backlog.done(bytes);
        this.opts.log.error({ err, batchId, events }, 'could not spool a click batch');
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** After the workers flushed: wait for their batches to be on disk, ship for up to `flushMs`, stop. */
  async stop(flushMs: number): Promise<void> {
    await Promise.all([...this.pending]);
    await this.shipper.stop();
    const empty = await this.shipper.flush(flushMs);
    this.salts.stop();
    if (!empty) this.opts.log.warn({ spooled: this.spool.size }, 'click batches left in the spool; they ship after the next start');
  }
}
