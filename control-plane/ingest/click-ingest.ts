/**
 * Click ingest: the durable pull consumer on `<prefix>_CLICKS` → Postgres.
 *
 * - Pulls up to `fetchMessages` batches at a time (the next pull is already in flight while the
 *   current one is written), groups them into transactions of at most `maxClicksPerTx` clicks,
 *   and acks a message only after the transaction holding its clicks committed. A crash between
 *   commit and ack redelivers the message; the click ids make the second write a no-op.
 * - Postgres unavailable → keep the messages, tell JetStream we are still working on them, retry
 *   with backoff. Postgres rejecting data → isolate the message; a message that cannot be stored
 *   even alone, or that cannot be decoded, is kept in `click_dead_letters` and acked: never lost
 *   silently, never blocking the stream.
 * - Clicks outside the accepted days (older than CLICK_RETENTION_DAYS or further ahead than the
 *   partitions) are counted (`linkplane_clicks_ingested_total{result="expired"|"rejected"}`) and logged.
 */
import { createHash } from 'node:crypto';
import {
  AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager,
  type Consumer, type JetStreamManager, type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  ClickCodecError, decodeClickColumns, ensureClicksStream, natsNames, OutageLog, uuidText, type ClickColumns, type ClicksStreamOptions, type Logger,
} from '../../shared/index.js';
import type { Pool } from '../db/pool.js';
import { acceptedDays, dayOf, PartitionCache, type PartitionWindow } from './click-partitions.js';
import { ClickSet } from './click-set.js';
import { storeClicks } from './click-writer.js';
import type { ClickEventSubscribers } from './event-subscribers.js';
import type { IngestMetrics } from './ingest-metrics.js';

export interface ClickIngestOptions {
  pool: Pool;
  /** Resolves once NATS is connected. */
  nats: () => Promise<NatsConnection>;
  prefix: string;
  log: Logger;
  metrics: IngestMetrics;
  stream: Partial<ClicksStreamOptions>;
  maxClicksPerTx: number;
  fetchMessages: number;
  /** Ingest transactions in flight at once (they never wait on each other's rows for long). */
  concurrency: number;
  window: PartitionWindow;
  subscribers: ClickEventSubscribers;
  /** Scheme of short URLs in webhook payloads. */
  scheme: string;
  ackWaitMs?: number;
  /** Most unacked messages the server hands this consumer (all control planes together). */
  maxAckPending?: number;
}

interface Held {
  msg: JsMsg;
  cols: ClickColumns;
  /** Per event: 0 = leave out (outside the accepted days); null = keep all. */
  keep: Uint8Array | null;
  count: number;
}

/** SQLSTATE classes that mean "this data cannot be stored" (not "try again later"). */
const isDataError = (err: unknown): boolean => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code.startsWith('54'));
};

/** A day partition went missing under us (dropped by hand?): recreate it rather than reject clicks. */
const isMissingPartition = (err: unknown): boolean =>
  (err as { code?: unknown })?.code === '23514' && /no partition of relation/i.test((err as Error).message ?? '');

export class ClickIngest {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly sleepers = new Set<() => void>();
  private signalStop: () => void = () => undefined;
  private stopSignal: Promise<null> = Promise.resolve(null);
  private readonly partitions = new PartitionCache();
  private readonly names: ReturnType<typeof natsNames>;
  private lastPendingSample = 0;
  /** The consumer loop (NATS or Postgres away) and click storing: each outage logged once. */
  private readonly consumeOutage: OutageLog;
  private readonly storeOutage: OutageLog;
  /** Totals since start (tests, logs). */
  readonly totals = { inserted: 0, duplicates: 0, transactions: 0, deadLettered: 0 };

  constructor(private readonly opts: ClickIngestOptions) {
    this.consumeOutage = new OutageLog(opts.log, 'click ingest');
    this.storeOutage = new OutageLog(opts.log, 'storing clicks');
    this.names = natsNames(opts.prefix);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopSignal = new Promise((resolve) => {
      this.signalStop = () => resolve(null);
    });
    this.loop = this.run();
  }

  /** Finishes the pull in flight and the transaction in progress, acks, and stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.signalStop();
    for (const wake of [...this.sleepers]) wake();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      try {
        const nc = await Promise.race([this.opts.nats(), this.stopSignal]);
        if (!nc || !this.running) break;
        const consumer = await this.setup(nc);
        backoff = 250;
        this.consumeOutage.ok();
        this.opts.log.info({ stream: this.names.clicksStream, consumer: this.names.clicksIngestConsumer }, 'click ingest consuming');
        await this.consume(consumer);
      } catch (err) {
        if (!this.running) break;
        this.consumeOutage.failed(err);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  private async setup(nc: NatsConnection): Promise<Consumer> {
    const jsm = await jetstreamManager(nc);
    await ensureClicksStream(jsm, this.opts.prefix, this.opts.stream, 'own');
    await this.ensureConsumer(jsm);
    return jetstream(nc).consumers.get(this.names.clicksStream, this.names.clicksIngestConsumer);
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const stream = this.names.clicksStream;
    const durable = this.names.clicksIngestConsumer;
    const ackWait = nanos(this.opts.ackWaitMs ?? 60_000);
    const maxAckPending = this.opts.maxAckPending ?? 1000;
    try {
      const info = await jsm.consumers.info(stream, durable);
      if (info.config.ack_wait !== ackWait || info.config.max_ack_pending !== maxAckPending) {
        await jsm.consumers.update(stream, durable, { ack_wait: ackWait, max_ack_pending: maxAckPending });
      }
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: this.names.clicksSubjects,
        ack_wait: ackWait,
        max_ack_pending: maxAckPending,
        max_deliver: -1,
      });
    }
  }

  private async fetch(consumer: Consumer): Promise<{ msgs: JsMsg[]; err: unknown }> {
    const msgs: JsMsg[] = [];
    try {
      const iter = await consumer.fetch({ max_messages: this.opts.fetchMessages, expires: 1_000 });
      for await (const m of iter) msgs.push(m);
      return { msgs, err: null };
    } catch (err) {
      return { msgs, err };
    }
  }

  private async consume(consumer: Consumer): Promise<void> {
    let next = this.fetch(consumer);
    for (;;) {
      const { msgs, err } = await next;
      const keepGoing = this.running && !err;
      if (keepGoing) next = this.fetch(consumer);
      if (msgs.length > 0) await this.process(msgs);
      this.samplePending(consumer);
      if (err) throw err;
      if (!keepGoing) return;
    }
  }

  private samplePending(consumer: Consumer): void {
    const now = Date.now();
    if (now - this.lastPendingSample < 5_000) return;
    this.lastPendingSample = now;
    void consumer.info(false).then(
      (i) => this.opts.metrics.pending.set(i.num_pending),
      () => undefined,
    );
  }

  /** Decodes, filters and stores a pulled set of messages, in transactions of bounded size. */
  private async process(msgs: JsMsg[]): Promise<void> {
    const window = acceptedDays(this.opts.window);
    const held: Held[] = [];
    for (const msg of msgs) {
      let cols: ClickColumns;
      try {
        cols = decodeClickColumns(msg.data);
      } catch (err) {
        const reason = err instanceof ClickCodecError ? err.message : String(err);
        if (await this.deadLetter(msg, reason)) msg.ack();
        else msg.nak(1_000);
        continue;
      }
      const problems = cols.rejected.map((r) => `event ${r.index}${r.id ? ` (${r.id})` : ''}: ${r.reason}`);
      let keep: Uint8Array | null = null;
      let expired = 0;
      for (let i = 0; i < cols.n; i++) {
        const d = dayOf(cols.times[i]!);
        if (d >= window.first && d <= window.last) continue;
        keep ??= new Uint8Array(cols.n).fill(1);
        keep[i] = 0;
        if (d < window.first) expired++;
        else problems.push(`event ${uuidText(cols.ids, 16 * i)}: occurred_at ${new Date(cols.times[i]!).toISOString()} is too far in the future`);
      }
      if (expired > 0) {
        this.opts.metrics.clicks.inc({ result: 'expired' }, expired);
        this.opts.log.warn({ batch: cols.batchId, node: cols.nodeId, expired }, 'clicks older than the retention window dropped');
      }
      if (problems.length > 0) {
        this.opts.metrics.clicks.inc({ result: 'rejected' }, problems.length);
        this.opts.log.warn({ batch: cols.batchId, node: cols.nodeId, problems: problems.slice(0, 10), count: problems.length }, 'invalid clicks in batch kept as a dead letter');
        if (!(await this.deadLetter(msg, problems.join('\n'), false))) {
          msg.nak(1_000); // Postgres down: comes back
          continue;
        }
      }
      let count = cols.n;
      if (keep) for (let i = 0; i < cols.n; i++) count -= keep[i]! ? 0 : 1;
      held.push({ msg, cols, keep, count });
    }
    const groups: Held[][] = [];
    let group: Held[] = [];
    let size = 0;
    for (const h of held) {
      if (group.length > 0 && size + h.count > this.opts.maxClicksPerTx) {
        groups.push(group);
        group = [];
        size = 0;
      }
      group.push(h);
      size += h.count;
    }
    if (group.length > 0) groups.push(group);
    const inFlight = new Set<Promise<void>>();
    for (const g of groups) {
      while (inFlight.size >= Math.max(1, this.opts.concurrency)) await Promise.race(inFlight);
      const p: Promise<void> = this.storeGroup(g).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  }

  /** Stores the clicks of `group` in one transaction and acks its messages; retries while Postgres is away. */
  private async storeGroup(group: Held[]): Promise<void> {
    const set = new ClickSet(
      group.map((h) => h.cols),
      (p, i) => {
        const keep = group[p]!.keep;
        return keep === null || keep[i] === 1;
      },
    );
    let backoff = 200;
    for (;;) {
      try {
        const days = new Set<number>();
        let newest = 0;
        for (let i = 0; i < set.n; i++) {
          const t = set.times[i]!;
          days.add(dayOf(t));
          if (t > newest) newest = t;
        }
        await this.partitions.ensure(this.opts.pool, days);
        const subscriptions = await this.opts.subscribers.get();
        const started = performance.now();
        const r = await storeClicks(this.opts.pool, set, { subscriptions, scheme: this.opts.scheme });
        const m = this.opts.metrics;
        m.txSeconds.observe({ path: r.path }, (performance.now() - started) / 1000);
        m.clicks.inc({ result: 'inserted' }, r.inserted);
        if (r.duplicates > 0) m.clicks.inc({ result: 'duplicate' }, r.duplicates);
        m.messages.inc({ result: 'stored' }, group.length);
        if (newest > 0) m.lagSeconds.set(Math.max(0, (Date.now() - newest) / 1000));
        this.totals.inserted += r.inserted;
        this.totals.duplicates += r.duplicates;
        this.totals.transactions++;
        for (const h of group) h.msg.ack();
        this.storeOutage.ok();
        if (r.path === 'merge') this.opts.log.info({ inserted: r.inserted, duplicates: r.duplicates }, 'redelivered clicks skipped');
        return;
      } catch (err) {
        if (isMissingPartition(err) && backoff < 1_000) {
          for (let i = 0; i < set.n; i++) this.partitions.forget(dayOf(set.times[i]!));
          backoff *= 2;
          continue;
        }
        if (isDataError(err)) {
          if (group.length > 1) {
            for (const h of group) await this.storeGroup([h]);
            return;
          }
          const h = group[0]!;
          this.opts.log.error({ err, seq: h.msg.seq }, 'Postgres rejected a click batch; kept as a dead letter');
          if (await this.deadLetter(h.msg, `Postgres rejected the batch: ${(err as Error).message}`)) h.msg.ack();
          return;
        }
        if (!this.running) {
          for (const h of group) h.msg.nak();
          return;
        }
        this.storeOutage.failed(err);
        for (const h of group) h.msg.working();
        await this.sleep(Math.min(backoff, (this.opts.ackWaitMs ?? 60_000) / 2));
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /**
   * Keeps a message in click_dead_letters. Returns false if that failed (Postgres down): then the
   * message is left unacked and comes back. `whole` = nothing of it will be stored.
   */
  private async deadLetter(msg: JsMsg, error: string, whole = true): Promise<boolean> {
    const payload = Buffer.from(msg.data);
    try {
      await this.opts.pool.query(
        `INSERT INTO click_dead_letters (stream_seq, subject, msg_id, payload, payload_sha256, error)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stream_seq, payload_sha256) DO NOTHING`,
        [msg.seq, msg.subject, msg.headers?.get('Nats-Msg-Id') || null, payload, createHash('sha256').update(payload).digest(), error.slice(0, 10_000)],
      );
    } catch (err) {
      this.opts.log.warn({ err, seq: msg.seq }, 'could not keep a dead letter; the message will be redelivered');
      return false;
    }
    if (whole) {
      this.opts.metrics.messages.inc({ result: 'dead_lettered' });
      this.totals.deadLettered++;
      this.opts.log.error({ seq: msg.seq, subject: msg.subject, error: error.slice(0, 500) }, 'click batch kept as a dead letter');
    }
    return true;
  }
}
