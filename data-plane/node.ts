/**
 * One redirect node: the store, the worker threads that serve it, and the sync that fills it.
 * `startNode` wires them from a validated config; `stop()` drains and closes in order.
 */
import { Worker } from 'node:worker_threads';
import { connectNats, natsNames, type Logger } from '../shared/index.js';
import type { DataPlaneConfig } from './config.js';
import { loadGeoDatabase } from './geo.js';
import { SharedState } from './ops/shared-state.js';
import { StoreFiles } from './store/store-files.js';
import { LinksSync, type SyncProgress } from './sync/links-sync.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker.js';

export interface RunningNode {
  port: number;
  state: SharedState;
  stop(): Promise<void>;
}

interface WorkerHandle {
  index: number;
  worker: Worker;
  exited: Promise<number>;
}

export async function startNode(config: DataPlaneConfig, log: Logger): Promise<RunningNode> {
  const names = natsNames(config.NATS_PREFIX);
  const state = SharedState.create(config.WORKERS);
  state.set('started_at', Math.floor(Date.now() / 1000));
  const files = StoreFiles.open(config.LMDB_PATH, log.child({ module: 'store' }));
  const geo = loadGeoDatabase(config.GEOIP_DB);
  let stopping = false;
  let swapId = 0;
  const swapAcks = new Map<number, { left: Set<number>; done: () => void }>();

  const init = (index: number): WorkerInit => ({
    index,
    workers: config.WORKERS,
    host: config.HOST,
    port: config.PORT,
    nodeId: config.NODE_ID,
    logLevel: config.LOG_LEVEL,
    trustedProxies: [...config.TRUSTED_PROXIES],
    ruleCacheSize: config.RULE_CACHE_SIZE,
    uaCacheSize: config.UA_CACHE_SIZE,
    storePath: files.currentPath,
    state: state.buffer,
    geo,
  });

  const handles: WorkerHandle[] = [];

  function spawn(index: number): Promise<number> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init(index) });
    const exited = new Promise<number>((r) => worker.once('exit', r));
    handles[index] = { index, worker, exited };
    worker.on('error', (err) => log.error({ err, worker: index }, 'worker thread error'));
    return new Promise<number>((resolveListen, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'listening') resolveListen(m.port);
        else if (m.type === 'failed') reject(new Error(`worker ${index}: ${m.message}`));
        else if (m.type === 'swapped') {
          const s = swapAcks.get(m.id);
          s?.left.delete(index);
          if (s && s.left.size === 0) s.done();
        }
      });
      void exited.then((code) => {
        reject(new Error(`worker ${index} exited with code ${code} before listening`));
        if (!stopping) {
          log.error({ worker: index, code }, 'worker thread died: restarting it');
          setTimeout(() => void spawn(index).catch((err: unknown) => log.error({ err, worker: index }, 'worker restart failed')), 500);
        }
      });
    });
  }

  let ports: number[];
  try {
    ports = await Promise.all(Array.from({ length: config.WORKERS }, (_, i) => spawn(i)));
  } catch (err) {
    stopping = true;
    await Promise.all(handles.map((h) => h.worker.terminate()));
    await files.close();
    throw err;
  }
  const port = ports[0]!;
  log.info({ host: config.HOST, port, workers: config.WORKERS, store: files.currentPath }, 'redirect node listening');

  function switchReaders(path: string): Promise<void> {
    const id = ++swapId;
    return new Promise<void>((done) => {
      const live = handles.filter((h) => h.worker.threadId > 0);
      swapAcks.set(id, { left: new Set(live.map((h) => h.index)), done: () => (swapAcks.delete(id), done()) });
      for (const h of live) h.worker.postMessage({ type: 'swap', id, path } satisfies ToWorker);
      if (live.length === 0) done();
    });
  }

  const syncLog = log.child({ module: 'links-sync' });
  let everConnected = false;
  const nats = connectNats({ servers: config.NATS_URL, name: `linkplane-node-${config.NODE_ID}`, log: log.child({ module: 'nats' }) });
  const sync = new LinksSync({
    nats: nats.ready,
    names,
    files,
    log: syncLog,
    batchMax: config.SYNC_BATCH_MAX,
    flushMs: config.SYNC_FLUSH_MS,
    events: {
      connected(up) {
        everConnected ||= up;
        state.set('nats_connected', up ? 1 : 0);
      },
      progress(p: SyncProgress) {
        state.set('applied_seq', p.appliedSeq);
        state.set('stream_seq', p.streamSeq);
        state.set('links', p.stats.links);
        state.set('domains', p.stats.domains);
        state.set('lmdb_bytes', p.stats.bytes);
        state.set('applied_entries', p.appliedEntries);
        state.set('transactions', p.transactions);
        state.set('rebuilds', p.rebuilds);
      },
      ready() {
        state.set('ready', 1);
      },
      switchReaders,
    },
  });
  const running = sync.run();

  const storedSeq = files.current.meta()?.seq ?? 0;
  const staleTimer = config.READY_WITHOUT_NATS_MS > 0 && storedSeq > 0
    ? setTimeout(() => {
        if (!everConnected && state.get('ready') === 0) {
          log.warn({ storedSeq, afterMs: config.READY_WITHOUT_NATS_MS }, 'NATS unreachable since start: ready with the stored snapshot');
          state.set('ready', 1);
        }
      }, config.READY_WITHOUT_NATS_MS)
    : null;

  return {
    port,
    state,
    async stop() {
      stopping = true;
      state.set('draining', 1);
      if (staleTimer) clearTimeout(staleTimer);
      for (const h of handles) h.worker.postMessage({ type: 'drain', graceMs: config.SHUTDOWN_GRACE_MS } satisfies ToWorker);
      await sync.stop();
      await running;
      await nats.close();
      const deadline = new Promise<void>((r) => setTimeout(r, config.SHUTDOWN_GRACE_MS + 5000).unref());
      await Promise.race([Promise.all(handles.map((h) => h.exited)), deadline]);
      await Promise.all(handles.map((h) => h.worker.terminate()));
      await files.close();
    },
  };
}
