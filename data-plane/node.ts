/**
 * One redirect node, supervised from the main thread: the sync thread (the store's only writer)
 * opens the store and keeps it in step with NATS; WORKERS serving threads answer redirects from
 * it. The supervisor starts them in that order, relays store swaps, restarts a thread that dies,
 * and on stop drains the servers, then stops the sync. With CLICK_CAPTURE on, it also does the
 * click work: each serving thread writes a record per click into its ring (click-ring.ts), and
 * this thread reads the rings, encodes the clicks (click-collector.ts), spools and ships the
 * batches (node-clicks.ts).
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { connectNats, startOpsServer, textAnswer, type Logger, type NatsHandle, type OpsRoutes, type OpsServer } from '../shared/index.js';
import { ClickCollector } from './clicks/click-collector.js';
import { createClickRing } from './clicks/click-ring.js';
import { NodeClicks } from './clicks/node-clicks.js';
import type { DataPlaneConfig } from './config.js';
import { createDeviceDetector } from './device.js';
import { loadGeoDatabase, openGeo } from './geo.js';
import { parseCidr, type Cidr } from './ip.js';
import { collectProcessMetrics } from '../shared/process-metrics.js';
import { renderMetrics } from './ops/metrics-text.js';
import { readiness } from './ops/readiness.js';
import { SharedState } from './ops/shared-state.js';
import { checkPortFree } from './port-check.js';
import type { FromWorker, ToWorker, WorkerInit } from './serve-worker.js';
import type { FromSync, SyncInit, ToSync } from './sync-worker.js';

export interface RunningNode {
  port: number;
  /** The operations port (/metrics, /healthz, /readyz). */
  opsPort: number;
  state: SharedState;
  stop(): Promise<void>;
}

interface Thread {
  worker: Worker;
  exited: Promise<number>;
}

/**
 * Small young generations: serving threads allocate little per request, and the sync thread's
 * replays would otherwise grow theirs to V8's maximum and keep it (tens of MB of RSS).
 */
const SERVE_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 8 };
const SYNC_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 6 };

/** A failed start waits at most this long for the sync thread to commit and stop. */
const START_STOP_BOUND_MS = 3000;

function thread(file: string, workerData: unknown, resourceLimits: ResourceLimits): Thread {
  const worker = new Worker(new URL(file, import.meta.url), { workerData, resourceLimits });
  return { worker, exited: new Promise<number>((r) => worker.once('exit', r)) };
}

/** A start interrupted by `signal` (SIGTERM/SIGINT while starting): not a failure. */
export class StartAborted extends Error {
  constructor(readonly signal: string) {
    super(`stopped by ${signal} while starting`);
  }
}

/** `p`, or a rejection with the signal's reason as soon as it aborts. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Starts the node; resolves once every serving thread listens. A start that fails (or that
 * `abort` interrupts) stops whatever it had started (serving threads, click capture, the sync
 * thread) before it rejects, so the caller can exit: nothing is left running.
 */
export async function startNode(config: DataPlaneConfig, log: Logger, abort?: AbortSignal): Promise<RunningNode> {
  // before anything starts: a taken port is a mistake unless sharing it is asked for
  if (!config.REUSE_PORT && config.PORT !== 0) await checkPortFree(config.HOST, config.PORT);
  const state = SharedState.create(config.WORKERS);
  const geo = loadGeoDatabase(config.GEOIP_DB);
  let stopping = false;
  let started = false;
  let storePath = '';
  const servers: Thread[] = [];
  const swapAcks = new Map<number, Set<number>>();

  // --- the sync thread: opens the store first (serving threads need its path) ---
  const syncInit: SyncInit = {
    nodeId: config.NODE_ID,
    logLevel: config.LOG_LEVEL,
    natsUrl: config.NATS_URL,
    natsPrefix: config.NATS_PREFIX,
    lmdbPath: config.LMDB_PATH,
    minFreeBytes: config.STORE_MIN_FREE_MB * 1024 * 1024,
    batchMax: config.SYNC_BATCH_MAX,
    flushMs: config.SYNC_FLUSH_MS,
    readyWithoutNatsMs: config.READY_WITHOUT_NATS_MS,
    maxBehindMs: config.SYNC_MAX_BEHIND_MS,
    workers: config.WORKERS,
    state: state.buffer,
    lmdbMapBytes: config.LMDB_MAP_SIZE_GB * 1024 ** 3,
  };
  let sync: Thread | undefined;
  let syncStopped: Promise<void> = Promise.resolve();
  let storeReady: (path: string) => void = () => {};
  let storeFailed: (err: Error) => void = () => {};
  const storeOpened = new Promise<string>((resolve, reject) => {
    storeReady = resolve;
    storeFailed = reject;
  });

  function startSync(): void {
    const t = thread('./sync-worker.js', syncInit, SYNC_LIMITS);
    sync = t;
    let stoppedSignal: () => void = () => {};
    syncStopped = new Promise<void>((r) => (stoppedSignal = r));
    t.worker.on('error', (err) => log.error({ err }, 'sync thread error'));
    t.worker.on('message', (m: FromSync) => {
      if (m.type === 'store') {
        // a restarted sync thread may have had to start a fresh generation
        if (storePath !== '' && m.path !== storePath) {
          for (const s of servers) s.worker.postMessage({ type: 'swap', id: 0, path: m.path } satisfies ToWorker);
        }
        storePath = m.path;
        storeReady(m.path);
      } else if (m.type === 'failed') {
        storeFailed(new Error(m.message));
      } else if (m.type === 'swap') {
        swapAcks.set(m.id, new Set(servers.map((_, i) => i)));
        for (const s of servers) s.worker.postMessage({ type: 'swap', id: m.id, path: m.path } satisfies ToWorker);
        if (servers.length === 0) sync?.worker.postMessage({ type: 'swapped', id: m.id } satisfies ToSync);
      } else if (m.type === 'stopped') {
        stoppedSignal();
      }
    });
    void t.exited.then((code) => {
      stoppedSignal();
      // before the store opened there is nothing to serve from: the start fails (a 'failed' message came first when it could)
      if (storePath === '') storeFailed(new Error(`the sync thread exited with code ${code} before the store opened`));
      else if (!stopping) {
        state.set('nats_connected', 0);
        log.error({ code }, 'sync thread died: restarting it (serving continues from the store)');
        setTimeout(startSync, 1000);
      }
    });
  }
  // --- click capture: the serving threads' rings read, encoded, spooled and shipped on this thread ---
  let clicksNats: NatsHandle | null = null;
  let clicks: NodeClicks | null = null;
  let collector: ClickCollector | null = null;
  /** One ring per serving thread, kept across its restarts. */
  const clickRings: SharedArrayBuffer[] = [];
  let clickGauges: NodeJS.Timeout | null = null;
  function startClicks(): void {
    try {
      startClickCapture();
    } catch (err) {
      throw new Error(`click capture cannot start in CLICK_DIR=${config.CLICK_DIR}`, { cause: err });
    }
  }
  function startClickCapture(): void {
    const nats = connectNats({ servers: config.NATS_URL, name: `linkplane-node-${config.NODE_ID}-clicks`, log: log.child({ module: 'click-nats' }) });
    clicksNats = nats;
    clicks = new NodeClicks({
      dir: config.CLICK_DIR,
      maxBytes: config.CLICK_SPOOL_MAX_MB * 1024 * 1024,
      backlogBytes: config.CLICK_BACKLOG_MAX_MB * 1024 * 1024,
      prefix: config.NATS_PREFIX,
      nodeId: config.NODE_ID,
      nats: () => nats.ready,
      log,
    });
    clicks.start();
    const c = clicks;
    let droppedLogged = 0;
    /** Clicks handed to the spool (the clicks_received metric). */
    let handed = 0;
    const col = new ClickCollector({
      nodeId: config.NODE_ID,
      geo: openGeo(geo),
      device: createDeviceDetector(config.UA_CACHE_SIZE),
      trustedProxies: config.TRUSTED_PROXIES.map(parseCidr).filter((x): x is Cidr => x !== null),
      salts: (day) => c.salts.current.get(day),
      maxEvents: config.CLICK_BATCH_MAX,
      flushMs: config.CLICK_FLUSH_MS,
      log: log.child({ module: 'click-collector' }),
      emit(data, events, batchId) {
        if (!c.backlog.tryAdd(data.byteLength, events)) {
          const now = Date.now();
          if (now - droppedLogged > 10_000) {
            droppedLogged = now;
            log.warn(
              { events, backlogBytes: c.backlog.bytes, droppedEvents: c.backlog.droppedEvents },
              'click backlog full: clicks dropped (the node is saturated and cannot spool them as fast as it serves)',
            );
          }
          return;
        }
        // a copy of its own: the encoder's output is a view of msgpackr's reused buffer
        handed += events;
        c.accept(batchId, Uint8Array.prototype.slice.call(data), events);
      },
    });
    collector = col;
    for (let i = 0; i < config.WORKERS; i++) {
      clickRings[i] = createClickRing();
      col.ring(i, clickRings[i]!);
    }
    col.start();
    let ringDroppedLogged = 0;
    const publishGauges = () => {
      const ringDropped = col.dropped;
      if (ringDropped > ringDroppedLogged) {
        log.warn({ droppedEvents: ringDropped - ringDroppedLogged }, 'click ring full: clicks dropped (the node is saturated and cannot encode them as fast as it serves)');
        ringDroppedLogged = ringDropped;
      }
      state.set('clicks_received', handed);
      state.set('clicks_spooled', c.counters.spooled);
      state.set('clicks_shipped', c.counters.shipped);
      state.set('clicks_dropped', c.counters.dropped + c.backlog.droppedEvents + ringDropped);
      state.set('clicks_backlog_dropped', c.backlog.droppedEvents + ringDropped);
      state.set('click_backlog_bytes', c.backlog.bytes + col.pendingBytes);
      state.set('click_ship_errors', c.counters.shipErrors);
      state.set('clicks_held', c.heldEvents);
      state.set('click_spool_failing', c.spoolFailing ? 1 : 0);
      const size = c.spool.size;
      state.set('click_spool_clicks', size.events);
      state.set('click_spool_bytes', size.bytes);
    };
    publishGauges();
    clickGauges = setInterval(publishGauges, 500);
    clickGauges.unref();
  }

  // --- serving threads ---
  const serveInit = (index: number): WorkerInit => ({
    index,
    workers: config.WORKERS,
    host: config.HOST,
    port: config.PORT,
    nodeId: config.NODE_ID,
    logLevel: config.LOG_LEVEL,
    trustedProxies: [...config.TRUSTED_PROXIES],
    ruleCacheSize: config.RULE_CACHE_SIZE,
    uaCacheSize: config.UA_CACHE_SIZE,
    accessLogSample: config.ACCESS_LOG_SAMPLE,
    lmdbMapBytes: config.LMDB_MAP_SIZE_GB * 1024 ** 3,
    storePath,
    state: state.buffer,
    geo,
    clickRing: clickRings[index] ?? null,
  });

  function startServer(index: number): Promise<number> {
    const t = thread('./serve-worker.js', serveInit(index), SERVE_LIMITS);
    servers[index] = t;
    t.worker.on('error', (err) => log.error({ err, worker: index }, 'serving thread error'));
    return new Promise<number>((resolveListen, reject) => {
      t.worker.on('message', (m: FromWorker) => {
        if (m.type === 'listening') resolveListen(m.port);
        else if (m.type === 'failed') {
          reject(new Error(`serving thread ${index}: ${m.message}`));
          void t.worker.terminate(); // it never listened: nothing to drain, and it would not exit by itself
        }
        else if (m.type === 'swapped' && m.id > 0) {
          const left = swapAcks.get(m.id);
          left?.delete(index);
          if (left && left.size === 0) {
            swapAcks.delete(m.id);
            sync?.worker.postMessage({ type: 'swapped', id: m.id } satisfies ToSync);
          }
        }
      });
      void t.exited.then((code) => {
        reject(new Error(`serving thread ${index} exited with code ${code} before listening`));
        // restarted only once the node is up: during the start a thread that dies fails the start
        if (started && !stopping) {
          log.error({ worker: index, code }, 'serving thread died: restarting it');
          setTimeout(() => void startServer(index).catch((err: unknown) => log.error({ err, worker: index }, 'restart failed')), 500);
        }
      });
    });
  }

  async function stopClicks(flushMs: number): Promise<void> {
    // the serving threads are gone: read what their rings still hold, emit the last batch
    collector?.stop();
    try {
      await clicks?.stop(flushMs);
    } finally {
      if (clickGauges) clearInterval(clickGauges);
      await clicksNats?.close().catch(() => undefined);
    }
  }

  /** Asks the sync thread to commit and stop; terminates it after `boundMs`. */
  async function stopSync(boundMs: number): Promise<void> {
    if (!sync) return;
    sync.worker.postMessage({ type: 'stop' } satisfies ToSync);
    await Promise.race([syncStopped, new Promise((r) => setTimeout(r, boundMs).unref())]);
    await sync.worker.terminate();
  }

  /**
   * Drains the serving threads and waits for them to exit. A thread is terminated only when it
   * overstays `boundMs`: terminating one with open uWS sockets aborts the whole process.
   */
  async function stopServers(graceMs: number, boundMs: number): Promise<void> {
    for (const s of servers) s.worker.postMessage({ type: 'drain', graceMs } satisfies ToWorker);
    const drained = Promise.all(servers.map((s) => s.exited));
    await Promise.race([drained, new Promise((r) => setTimeout(r, boundMs).unref())]);
    await Promise.all(servers.map((s) => s.worker.terminate()));
  }

  const processMetrics = new Registry();
  collectProcessMetrics(processMetrics);
  /** The operations port: answered by this thread from the shared state, from the start on. */
  const opsRoutes: OpsRoutes = {
    '/healthz': () => textAnswer(200, 'ok\n'),
    '/readyz': () => {
      const r = readiness(state);
      return textAnswer(r.ready ? 200 : 503, r.text);
    },
    '/metrics': async () => ({
      status: 200,
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      body: renderMetrics(state, config.NODE_ID) + (await processMetrics.metrics()),
    }),
  };
  let ops: OpsServer | null = null;

  let port: number;
  try {
    ops = await startOpsServer({ host: config.OPS_HOST, port: config.OPS_PORT, routes: opsRoutes, log: log.child({ module: 'ops' }) });
    startSync();
    // a signal interrupts the wait for the store (a damaged one is checked first, which can take
    // long); serving threads, once spawned, finish starting (each listens or fails within moments)
    // and the caller then stops the node as usual
    await unlessAborted(storeOpened, abort);
    abort?.throwIfAborted();
    if (config.CLICK_CAPTURE) startClicks();
    const started = await Promise.allSettled(Array.from({ length: config.WORKERS }, (_, i) => startServer(i)));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    port = (started[0] as PromiseFulfilledResult<number>).value;
  } catch (err) {
    // nothing may outlive a failed start: the process must be free to exit with the cause
    stopping = true;
    await stopServers(0, START_STOP_BOUND_MS);
    await stopClicks(0).catch((e: unknown) => log.warn({ err: e }, 'click capture did not stop cleanly'));
    await stopSync(START_STOP_BOUND_MS);
    await ops?.close();
    throw err;
  }
  started = true;
  log.info({ host: config.HOST, port, opsPort: ops.port, workers: config.WORKERS, store: storePath }, 'redirect node listening');
  const opsServer = ops;

  return {
    port,
    opsPort: opsServer.port,
    state,
    async stop() {
      stopping = true;
      state.set('draining', 1);
      await stopServers(config.SHUTDOWN_GRACE_MS, config.SHUTDOWN_GRACE_MS + 5000);
      // every click the serving threads answered is in their rings: stopClicks reads them to the end
      await stopClicks(config.CLICK_STOP_FLUSH_MS);
      await stopSync(10_000);
      await opsServer.close();
    },
  };
}
