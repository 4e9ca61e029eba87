/**
 * NATS → LMDB. Watches the links bucket from the sequence the store remembers (or replays it into
 * a fresh generation when resuming is not safe), applies updates in large write transactions
 * (at most SYNC_BATCH_MAX per transaction, flushed SYNC_FLUSH_MS after the previous one while a
 * stream flows, at once when it trickles), and reports progress. NATS going away is survived:
 * the client reconnects with backoff, the watch is reopened from the stored sequence, and the
 * node keeps serving what it has meanwhile.
 *
 * A store write that fails (disk full under LMDB_PATH, I/O error) is retried: the watch is reopened
 * from the stored sequence after a short backoff. While the replica stays behind the stream with no
 * successful write for more than `maxBehindMs` (SYNC_MAX_BEHIND_MS) and NATS is reachable, the node
 * reports itself stalled (not ready); it is ready again once it has caught up. Each change (writes
 * failing, writes back, stalled, caught up again) is logged once.
 *
 * Live updates: once ready, the node also applies the relay's copies on core NATS
 * (`<prefix>.links.live.<kv key>`), which need no JetStream leader — so a link written while the
 * links stream elects a new leader (seconds after a NATS server loss) is served within milliseconds
 * anyway. They never move the stored stream sequence (resume point, lag and readiness stay the
 * KV's); update-order.ts orders them against the KV entries by the outbox sequence both carry.
 */
import { DeliverPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import { SyncError, type Logger, type NatsNames } from '../../shared/index.js';
import type { StoreFiles } from '../store/store-files.js';
import { STORE_FORMAT, type StoreOp, type StoreStats, type StoreWriter } from '../store/writer.js';
import { entryToOp } from './kv-entry.js';
import { kvHeadersOf } from './kv-headers.js';
import { planSync, type StreamFacts } from './plan.js';
import { UpdateOrder } from './update-order.js';

export interface SyncProgress {
  appliedSeq: number;
  streamSeq: number;
  stats: StoreStats;
  appliedEntries: number;
  transactions: number;
  rebuilds: number;
  /** Failed store write transactions since start. */
  storeWriteFailures: number;
  /** The last store write failed (cleared by the next successful one). */
  storeWritesFailing: boolean;
  /** Behind the stream with no successful write for longer than `maxBehindMs`: not ready. */
  stalled: boolean;
  /** Live updates (core NATS) written to the store. */
  liveApplied: number;
  /** Live updates not written: not newer than what the node had for the key, or arrived before ready. */
  liveIgnored: number;
  /** KV entries not written because a newer live update of the key was already applied. */
  kvSuperseded: number;
}

export interface SyncEvents {
  connected(up: boolean): void;
  progress(p: SyncProgress): void;
  /** The store has caught up with the stream as it was when syncing started (once). */
  ready(): void;
  /** A rebuilt generation is to be served: resolves when every reader switched to `path`. */
  switchReaders(path: string): Promise<void>;
}

export interface LinksSyncOptions {
  /** Resolves with the connection once NATS is first reached (shared/nats-connect.ts). */
  nats: Promise<NatsConnection>;
  names: NatsNames;
  files: StoreFiles;
  log: Logger;
  events: SyncEvents;
  batchMax: number;
  flushMs: number;
  /** How often the stream's state is checked (lag metric, recreated bucket, stalled watch; default 500 ms). */
  monitorMs?: number;
  /** Longest the replica may stay behind without a successful write before it is `stalled` (default 5 s). */
  maxBehindMs?: number;
}

interface Target {
  writer: StoreWriter;
  /** Set while rebuilding beside the served generation. */
  next: { writer: StoreWriter; name: string } | null;
}

/** How often a missing links bucket is looked for again (about). */
const BUCKET_POLL_MS = 1000;
/** Flush interval while replaying towards the first catch-up. */
const REPLAY_FLUSH_MS = 250;
/** Messages the consumer pulls ahead: bounds what sits in memory between NATS and LMDB. */
const PULL_BATCH = 2000;
/**
 * Catch-up mode: while more than this many messages wait in the stream behind the one received (a
 * bulk import the relay publishes faster than the node applies, a node back after an outage), a
 * ready node commits every REPLAY_FLUSH_MS too — fewer, larger transactions (each commit syncs the
 * file) — since an update at the end of that backlog waits for it anyway. Caught up, it commits
 * SYNC_FLUSH_MS after an update arrives (propagation).
 */
const CATCH_UP_PENDING = PULL_BATCH;
/** Longest wait before retrying after a failed store write (a freed disk is used within about this). */
const WRITE_RETRY_MAX_MS = 2000;
/**
 * A watch that delivers nothing this long while the stream is ahead is reopened. Its consumer may
 * have lived on a NATS server that died (ephemeral consumers are not moved): nats.js would notice
 * only after two missed idle heartbeats (30 s by default).
 */
const WATCH_STALL_MS = 750;
const MONITOR_MS = 500;
const MONITOR_TIMEOUT_MS = 1000;
const CONSUMER_CREATE_TIMEOUT_MS = 1500;
/** Stream info at the start of a watch (a plain request: well under a second when JetStream is healthy). */
const SESSION_REQUEST_TIMEOUT_MS = 2000;
/** How often `stalled` is re-evaluated. */
const HEALTH_CHECK_MS = 250;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function isStreamMissing(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;
}

export class LinksSync {
  readonly #o: LinksSyncOptions;
  readonly #log: Logger;
  #stopped = false;
  #onStop: () => void = () => {};
  readonly #stopSignal = new Promise<void>((r) => (this.#onStop = r));
  #stopWatch: (() => void) | null = null;
  #target: Target;
  #streamCreated = '';
  #readyTarget: number | null = null; // stream sequence to reach before ready
  #ready = false;
  #promoting: Promise<void> | null = null;
  #pending: StoreOp[] = [];
  #pendingCount = 0;
  #pendingSeq = 0;
  #caughtUpAt = Infinity; // a sequence after which nothing was pending
  #timer: NodeJS.Timeout | null = null;
  /** When the scheduled commit is due (Date.now() time). */
  #timerDue = 0;
  #discarding = false;
  #lastFlushAt = 0;
  #lastEntryAt = 0;
  #progress: SyncProgress;
  #connected = false;
  /** When NATS was last (re)connected: a reconnected node gets `maxBehindMs` to catch up. */
  #connectedAt = 0;
  /** Since when the applied sequence is behind the stream's (null: not behind). */
  #behindSince: number | null = null;
  /** Last successful store write (or start). */
  #lastWriteAt = Date.now();
  /** First failure of the current run of failed writes (null: the last write succeeded). */
  #failingSince: number | null = null;
  #failuresInRun = 0;
  #lastWriteError: unknown = null;
  #healthTimer: NodeJS.Timeout | null = null;
  readonly #order = new UpdateOrder();
  #liveSub: Subscription | null = null;
  #livePending: StoreOp[] = [];
  #liveTimer: NodeJS.Immediate | null = null;
  #liveFailureLogged = false;

  constructor(options: LinksSyncOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#target = { writer: options.files.current, next: null };
    const meta = options.files.current.meta();
    this.#progress = {
      appliedSeq: meta?.seq ?? 0,
      streamSeq: meta?.seq ?? 0,
      stats: options.files.current.stats(),
      appliedEntries: 0,
      transactions: 0,
      rebuilds: 0,
      storeWriteFailures: 0,
      storeWritesFailing: false,
      stalled: false,
      liveApplied: 0,
      liveIgnored: 0,
      kvSuperseded: 0,
    };
  }

  /** Runs until stop(). Never throws: failures are logged and retried with backoff. */
  async run(): Promise<void> {
    this.#emit();
    this.#healthTimer = setInterval(() => this.#checkHealth(), HEALTH_CHECK_MS);
    this.#healthTimer.unref();
    const nc = await Promise.race([this.#o.nats, this.#stopSignal]);
    if (!nc || this.#stopped) return;
    this.#setConnected(!nc.isClosed());
    void this.#watchStatus(nc);
    // kept across reconnects by the client; messages sent while disconnected are simply missed (the KV has them)
    this.#liveSub = nc.subscribe(this.#o.names.linksLiveSubjects, { callback: (err, m) => this.#onLive(err, m) });
    let backoff = 250;
    while (!this.#stopped) {
      try {
        const reachedStream = await this.#session(nc, await jetstreamManager(nc, { timeout: SESSION_REQUEST_TIMEOUT_MS, checkAPI: false }));
        // after a failed write, retry soon but not in a tight loop (each retry re-reads from NATS)
        if (this.#failingSince !== null) backoff = Math.min(Math.max(backoff, 250), WRITE_RETRY_MAX_MS / 1.5);
        else if (reachedStream) backoff = 250;
      } catch (err) {
        if (this.#stopped) break;
        // unanswered right after a server loss (the request met the lost server or no leader yet): again soon
        if (err instanceof Error && err.name === 'TimeoutError' && this.#connected) this.#reopenNow = true;
        if (isStreamMissing(err)) {
          this.#bucketMissing();
          backoff = BUCKET_POLL_MS / 1.5; // look again soon: the control plane creates it when it starts
        } else {
          this.#log.warn({ err: new SyncError('links sync interrupted', { cause: err }) }, 'sync interrupted; retrying');
        }
      }
      if (this.#stopped) break;
      if (this.#reopenNow) {
        // the monitor ended a watch on purpose, or a consumer could not be created: try again at once
        this.#reopenNow = false;
        await Promise.race([sleep(50), this.#stopSignal]);
        continue;
      }
      await Promise.race([sleep(backoff + Math.random() * backoff / 2), this.#stopSignal]);
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  #setConnected(up: boolean): void {
    if (up && !this.#connected) this.#connectedAt = Date.now();
    this.#connected = up;
    this.#o.events.connected(up);
    this.#checkHealth();
  }

  /** Publishes progress (and re-evaluates `stalled`, which depends on it). */
  #emit(): void {
    this.#checkHealth(false);
    this.#o.events.progress(this.#progress);
  }

  /**
   * Stalled: behind the stream, NATS reachable (or writes failing), and neither the lag began nor a
   * write succeeded nor NATS came back within `maxBehindMs`. Without NATS the node cannot catch up
   * anyway and keeps serving what it has (design §1), so that alone never makes it unready.
   */
  #checkHealth(publish = true): void {
    const p = this.#progress;
    const now = Date.now();
    if (p.streamSeq > p.appliedSeq) this.#behindSince ??= now;
    else this.#behindSince = null;
    const since = Math.max(this.#behindSince ?? now, this.#lastWriteAt, this.#connectedAt);
    const reachable = this.#connected || this.#failingSince !== null;
    // Once stalled, a successful write is not enough: ready again only when caught up with the stream
    // sequence last seen (or when NATS is gone, which alone never makes a node unready).
    const stalled = p.stalled
      ? this.#behindSince !== null && reachable
      : this.#behindSince !== null && reachable && now - since > (this.#o.maxBehindMs ?? 5000);
    if (stalled === p.stalled) return;
    p.stalled = stalled;
    const facts = { lag: p.streamSeq - p.appliedSeq, appliedSeq: p.appliedSeq, streamSeq: p.streamSeq, storeWritesFailing: p.storeWritesFailing, maxBehindMs: this.#o.maxBehindMs ?? 5000 };
    if (stalled) {
      const err = this.#failingSince === null ? undefined : new SyncError('store writes failing', { cause: this.#lastWriteError });
      this.#log.error({ ...facts, behindMs: now - (this.#behindSince ?? now), ...(err ? { err } : {}) },
        p.storeWritesFailing
          ? 'replica behind the stream and store writes failing: not ready (answering 503 for links it lacks) until it catches up'
          : 'replica behind the stream with no progress: not ready (answering 503 for links it lacks) until it catches up');
    } else {
      this.#log.info(facts, 'replica caught up again: ready');
    }
    if (publish) this.#o.events.progress(p);
  }

  #bucketMissingLogged = false;
  #bucketMissing(): void {
    if (!this.#bucketMissingLogged) {
      this.#log.warn({ bucket: this.#o.names.linksBucket }, 'links bucket does not exist yet: nothing to replicate; waiting for it');
      this.#bucketMissingLogged = true;
    }
    this.#markReady('bucket missing');
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.#setConnected(false);
      else if (s.type === 'reconnect') this.#setConnected(true);
    }
  }

  async #streamFacts(jsm: JetStreamManager): Promise<StreamFacts> {
    const si = await jsm.streams.info(this.#o.names.linksStream);
    const subjects = (si.state as { num_subjects?: number }).num_subjects;
    return { created: si.created, firstSeq: si.state.first_seq, lastSeq: si.state.last_seq, messages: si.state.messages, subjects: typeof subjects === 'number' ? subjects : null };
  }

  /** One watch of the bucket, from planning to the watch ending. Returns true if it got going. */
  async #session(nc: NatsConnection, jsm: JetStreamManager): Promise<boolean> {
    const stream = await this.#streamFacts(jsm);
    this.#bucketMissingLogged = false;
    this.#chooseTarget(stream);
    const fromSeq = (this.#target.writer.meta()?.seq ?? 0) + 1;
    const resuming = fromSeq > 1;
    this.#streamCreated = stream.created;
    this.#progress.streamSeq = Math.max(this.#progress.streamSeq, stream.lastSeq);
    this.#emit(); // the lag is visible even when every write of this session fails
    if (this.#readyTarget === null || this.#target.next !== null) this.#readyTarget = stream.lastSeq;
    this.#caughtUpAt = Infinity;
    this.#discarding = false;
    this.#log.info(
      { fromSeq, streamFirstSeq: stream.firstSeq, streamLastSeq: stream.lastSeq, rebuilding: this.#target.next !== null, mode: resuming ? 'resume' : 'replay' },
      resuming ? 'resuming links sync from stored sequence' : 'replaying links bucket',
    );
    if (fromSeq > stream.lastSeq || stream.messages === 0) await this.#caughtUp();
    // An ordered pull consumer from a sequence: it pulls PULL_BATCH at a time (memory stays bounded
    // however far behind the node is) and recreates itself after a NATS restart. Even a full replay
    // starts from a sequence: a last-per-subject consumer over a million keys takes the server
    // longer to set up than a request timeout, and with history 1 the stream only holds last
    // values and delete markers anyway.
    // (no subject filter: the stream only holds the bucket's keys, and `filter_subjects` needs
    // nats-server 2.10)
    // A short timeout, retried at once: right after a server loss the new consumer may be placed on
    // the lost server (not yet known to be gone) and its creation never answered; another attempt
    // is placed again.
    let messages;
    try {
      const consumer = await jetstream(nc, { timeout: CONSUMER_CREATE_TIMEOUT_MS }).consumers.get(this.#o.names.linksStream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: fromSeq,
      });
      messages = await consumer.consume({ max_messages: PULL_BATCH });
    } catch (err) {
      this.#reopenNow = true;
      throw err;
    }
    const stop = () => void messages.stop();
    this.#stopWatch = stop;
    // short timeout: a stream without a leader (election after a server loss) shows up within a second
    const monitorJsm = await jetstreamManager(nc, { timeout: MONITOR_TIMEOUT_MS, checkAPI: false });
    this.#monitorFailed = false;
    const monitor = setInterval(() => void this.#monitor(monitorJsm, stop), this.#o.monitorMs ?? MONITOR_MS);
    this.#lastEntryAt = Date.now();
    try {
      for await (const m of messages) {
        this.#add(m);
        if (this.#stopped) break;
      }
    } finally {
      clearInterval(monitor);
      this.#stopWatch = null;
      this.#flush();
    }
    return true;
  }

  /** Decides which generation this session fills: the served one, or a fresh one to swap in. */
  #chooseTarget(stream: StreamFacts): void {
    const writer = this.#target.writer;
    const meta = writer.meta();
    const { links, domains } = writer.stats();
    // keys written by live updates the KV has not stored yet (a leader election) are not in the stream:
    // counted, they would look like a purge and force a full rebuild each time the watch reopens
    const stored = Math.max(0, links + domains - this.#order.unconfirmed);
    const plan = planSync(meta, stored, stream, this.#o.names.linksBucket, STORE_FORMAT);
    if (plan.kind === 'resume' || plan.reason === 'empty_store') return; // an empty generation is simply filled by the replay
    this.#log.warn({ reason: plan.reason, storedSeq: meta?.seq ?? 0, stream }, 'stored replica cannot resume: rebuilding it from the stream');
    if (this.#target.next !== null) void this.#o.files.discard(this.#target.next);
    const next = this.#o.files.createNext();
    this.#target = { writer: next.writer, next };
    this.#progress.rebuilds++;
    this.#readyTarget = stream.lastSeq;
    if (this.#ready) this.#log.info('serving the previous replica until the rebuild catches up');
  }

  #monitoring = false;
  /** The last stream check failed (NATS away, or the stream had no leader). */
  #monitorFailed = false;
  /** Set when the monitor stops a watch on purpose: the next one opens without backoff. */
  #reopenNow = false;
  async #monitor(jsm: JetStreamManager, stopWatch: () => void): Promise<void> {
    if (this.#monitoring) return; // a slow answer (stream leader election) must not pile up requests
    this.#monitoring = true;
    try {
      const s = await this.#streamFacts(jsm);
      this.#progress.streamSeq = Math.max(this.#progress.appliedSeq, this.#progress.streamSeq, s.lastSeq);
      this.#emit();
      const recovered = this.#monitorFailed;
      this.#monitorFailed = false;
      if (s.created !== this.#streamCreated || s.lastSeq < this.#progress.appliedSeq) {
        this.#log.warn({ stream: s }, 'links stream was recreated: restarting sync');
        stopWatch();
      } else if (recovered) {
        // the stream was unreachable or leaderless (a NATS server lost): this watch's consumer may
        // have lived on the lost server, where nothing would ever come from it again
        this.#log.info({ appliedSeq: this.#progress.appliedSeq, streamSeq: s.lastSeq }, 'links stream answers again: reopening the watch');
        this.#reopenNow = true;
        stopWatch();
      } else if (
        s.lastSeq > this.#progress.appliedSeq && this.#pendingCount === 0 && Date.now() - this.#lastEntryAt > WATCH_STALL_MS &&
        this.#behindSince !== null && Date.now() - this.#behindSince > WATCH_STALL_MS
      ) {
        this.#log.warn({ appliedSeq: this.#progress.appliedSeq, streamSeq: s.lastSeq }, 'watch stalled: reopening it');
        this.#lastEntryAt = Date.now();
        this.#reopenNow = true;
        stopWatch();
      }
    } catch (err) {
      if (isStreamMissing(err)) {
        this.#log.warn('links stream disappeared: restarting sync');
        stopWatch();
      } else {
        // NATS down, or no stream leader: the client reconnects; the watch is reopened once the
        // stream answers again
        this.#monitorFailed = true;
      }
    } finally {
      this.#monitoring = false;
    }
  }

  #add(m: JsMsg): void {
    if (this.#discarding) return; // a write failed: this watch is being replaced, the next one resumes
    this.#lastEntryAt = Date.now();
    const key = m.subject.slice(this.#o.names.linksKeySubjectPrefix.length);
    const h = kvHeadersOf(m);
    const seq = m.seq;
    if (this.#order.kv(key, h.outboxSeq, this.#ready)) {
      const r = entryToOp({ key, operation: h.operation, value: m.data, revision: seq });
      if (r.problem !== null) this.#log.warn({ key, seq, problem: r.problem }, 'KV entry not servable; removed from the store');
      if (r.op !== null) this.#pending.push(r.op);
    } else {
      this.#progress.kvSuperseded++; // a newer live update of this key is served already
    }
    this.#pendingCount++;
    this.#pendingSeq = seq;
    const pending = m.info.pending;
    if (pending === 0) this.#caughtUpAt = Math.min(this.#caughtUpAt, seq);
    if (seq > this.#progress.streamSeq) this.#progress.streamSeq = seq;
    if (this.#pending.length >= this.#o.batchMax) {
      this.#flush();
    } else {
      // until the first catch-up nothing is served from these writes yet, and far behind the stream an
      // update waits for the backlog anyway: fewer, larger commits
      const interval = this.#ready && pending <= CATCH_UP_PENDING ? this.#o.flushMs : Math.max(this.#o.flushMs, REPLAY_FLUSH_MS);
      const due = this.#lastFlushAt + interval;
      // caught up with a catch-up commit still scheduled: the tail of the backlog is committed sooner
      if (this.#timer !== null && due >= this.#timerDue) return;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timerDue = due;
      this.#timer = setTimeout(() => this.#flush(), Math.max(0, due - this.#lastEntryAt));
    }
  }

  #flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#pendingCount === 0) return;
    const ops = this.#pending;
    const count = this.#pendingCount;
    const seq = this.#pendingSeq;
    this.#pending = [];
    this.#pendingCount = 0;
    const writer = this.#target.writer;
    try {
      writer.apply(ops, { format: STORE_FORMAT, bucket: this.#o.names.linksBucket, streamCreated: this.#streamCreated, seq });
    } catch (err) {
      // nothing of this batch was written; the next watch resumes from the stored sequence
      this.#writeFailed(err, count, seq);
      this.#discarding = true;
      this.#stopWatch?.();
      return;
    }
    this.#lastFlushAt = Date.now();
    this.#writeSucceeded();
    const p = this.#progress;
    if (this.#target.next === null) {
      p.appliedSeq = seq;
      p.stats = writer.stats();
    }
    p.appliedEntries += count;
    p.transactions++;
    this.#emit();
    if (seq >= (this.#readyTarget ?? Infinity) || seq >= this.#caughtUpAt) void this.#caughtUp();
  }

  /**
   * A live update: applied (batched with the others of this turn) when the node is ready, serves its
   * current generation, and has nothing as new for the key. Stored with the negative outbox sequence
   * as its stamp, so the readers' rule cache never confuses it with a KV entry's value.
   */
  #onLive(err: Error | null, m: Msg): void {
    if (err !== null || this.#stopped) return;
    const key = m.subject.slice(this.#o.names.linksLiveSubjectPrefix.length);
    const h = kvHeadersOf(m);
    const seq = h.outboxSeq;
    // before the first catch-up (or while a rebuild fills another generation) the KV replay brings it
    if (seq === null || !this.#ready || this.#target.next !== null || !this.#order.live(key, seq)) {
      this.#progress.liveIgnored++;
      return;
    }
    const r = entryToOp({ key, operation: h.operation, value: m.data, revision: -seq });
    if (r.problem !== null) this.#log.warn({ key, outboxSeq: seq, problem: r.problem }, 'live update not servable; removed from the store');
    if (r.op !== null) this.#livePending.push(r.op);
    this.#liveTimer ??= setImmediate(() => this.#flushLive());
  }

  /** Writes the live updates received: after the KV entries already queued (they are older), in one transaction. */
  #flushLive(): void {
    this.#liveTimer = null;
    const ops = this.#livePending;
    this.#livePending = [];
    if (ops.length === 0 || this.#stopped) return;
    if (this.#pendingCount > 0) this.#flush();
    const writer = this.#target.writer;
    const meta = writer.meta();
    if (this.#target.next !== null || meta === null) {
      this.#progress.liveIgnored += ops.length;
      return;
    }
    try {
      writer.apply(ops, meta); // the resume point stays the KV's
    } catch (err) {
      // the KV entries follow and are retried by the watch, which reports a failing store
      this.#progress.liveIgnored += ops.length;
      if (!this.#liveFailureLogged) this.#log.warn({ err, updates: ops.length }, 'live updates could not be written; the KV entries will bring them');
      this.#liveFailureLogged = true;
      return;
    }
    this.#liveFailureLogged = false;
    const p = this.#progress;
    p.liveApplied += ops.length;
    p.transactions++; // the serving threads renew their read snapshot when this moves
    p.stats = writer.stats();
    this.#emit();
  }

  /** Logged once per run of failures (the first), with the cause; the rest only counted. */
  #writeFailed(err: unknown, count: number, seq: number): void {
    const p = this.#progress;
    p.storeWriteFailures++;
    p.storeWritesFailing = true;
    this.#failuresInRun++;
    this.#lastWriteError = err;
    if (this.#failingSince === null) {
      this.#failingSince = Date.now();
      this.#log.error({ err, updates: count, seq, appliedSeq: p.appliedSeq }, 'store writes failing (disk full or unwritable?): retrying from the stored sequence; serving what the store has');
    }
    this.#emit();
  }

  #writeSucceeded(): void {
    this.#lastWriteAt = Date.now();
    if (this.#failingSince === null) return;
    this.#log.info({ failedMs: this.#lastWriteAt - this.#failingSince, failures: this.#failuresInRun }, 'store writes succeed again');
    this.#failingSince = null;
    this.#failuresInRun = 0;
    this.#lastWriteError = null;
    this.#progress.storeWritesFailing = false;
  }

  async #caughtUp(): Promise<void> {
    const next = this.#target.next;
    if (next !== null) {
      if (this.#promoting) return;
      this.#promoting = this.#o.files.promote(next, (path) => this.#o.events.switchReaders(path)).then(
        () => {
          this.#target = { writer: next.writer, next: null };
          this.#promoting = null;
          this.#progress.appliedSeq = next.writer.meta()?.seq ?? 0;
          this.#progress.stats = next.writer.stats();
          this.#emit();
          this.#markReady('rebuild caught up');
        },
        (err: unknown) => {
          this.#promoting = null;
          this.#log.error({ err }, 'could not switch to the rebuilt store');
        },
      );
      return;
    }
    this.#markReady('caught up');
  }

  #markReady(why: string): void {
    if (this.#ready) return;
    this.#ready = true;
    this.#log.info({ why, appliedSeq: this.#progress.appliedSeq, links: this.#progress.stats.links }, 'node is ready');
    this.#o.events.ready();
  }

  /** Stops watching and writes what was received (the caller closes the NATS connection). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#healthTimer !== null) clearInterval(this.#healthTimer);
    this.#onStop();
    this.#liveSub?.unsubscribe();
    if (this.#liveTimer !== null) clearImmediate(this.#liveTimer);
    this.#stopWatch?.();
    this.#flush();
    await this.#promoting?.catch(() => undefined);
  }
}
