/**
 * Entry of the sync thread, the store's only writer: opens (or replaces) the LMDB generation,
 * connects to NATS and keeps the replica in step with the links bucket. It runs in its own
 * thread so its allocation-heavy replays get a small young generation of their own and never
 * touch the serving threads or the supervisor. Progress goes straight into the shared state.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { connectNats, createLogger, errorChain, natsNames } from '../shared/index.js';
import { collectGarbage } from './heap.js';
import { SharedState } from './ops/shared-state.js';
import { setLmdbMapSize } from './store/lmdb-env.js';
import { prepareStoreDir } from './store/store-dir.js';
import { StoreFiles } from './store/store-files.js';
import { LinksSync } from './sync/links-sync.js';

export interface SyncInit {
  nodeId: string;
  logLevel: string;
  natsUrl: string;
  natsPrefix: string;
  lmdbPath: string;
  /** The store is not opened with less free space than this under lmdbPath (STORE_MIN_FREE_MB). */
  minFreeBytes: number;
  batchMax: number;
  flushMs: number;
  readyWithoutNatsMs: number;
  maxBehindMs: number;
  workers: number;
  state: SharedArrayBuffer;
  /** LMDB_MAP_SIZE_GB in bytes. */
  lmdbMapBytes: number;
}

export type ToSync = { type: 'swapped'; id: number } | { type: 'stop' };
export type FromSync =
  | { type: 'store'; path: string }
  | { type: 'swap'; id: number; path: string }
  | { type: 'failed'; message: string }
  | { type: 'stopped' };

const init = workerData as SyncInit;
setLmdbMapSize(init.lmdbMapBytes);
const port = parentPort!;
const post = (m: FromSync) => port.postMessage(m);
const log = createLogger({ name: 'data-plane', level: init.logLevel }).child({ node: init.nodeId });
const state = new SharedState(init.state, init.workers);

function sampleMemory(): void {
  const m = process.memoryUsage();
  state.set('sync_heap_used', m.heapUsed);
  state.set('sync_heap_total', m.heapTotal);
  state.set('sync_external', m.external);
}

/**
 * A replay (start, rebuild) leaves the heap grown and full of garbage that a quiet thread would keep
 * for hours: collected once, a moment after (the last batch committed), before the node serves long.
 */
let settleTimer: NodeJS.Timeout | null = null;
function afterReplay(): void {
  if (settleTimer) clearTimeout(settleTimer);
  settleTimer = setTimeout(() => {
    settleTimer = null;
    collectGarbage();
    sampleMemory();
  }, 1000);
  settleTimer.unref();
}

let files: StoreFiles;
try {
  prepareStoreDir(init.lmdbPath, init.minFreeBytes);
  files = StoreFiles.open(init.lmdbPath, log.child({ module: 'store' }));
} catch (err) {
  log.error({ err, path: init.lmdbPath }, 'cannot open the store');
  post({ type: 'failed', message: `the store cannot be opened in LMDB_PATH=${init.lmdbPath}: ${errorChain(err)}` });
  port.close();
  throw err;
}
post({ type: 'store', path: files.currentPath });

let swapId = 0;
const swaps = new Map<number, () => void>();
const nats = connectNats({ servers: init.natsUrl, name: `linkplane-node-${init.nodeId}`, log: log.child({ module: 'nats' }) });
let everConnected = false;
const sync = new LinksSync({
  nats: nats.ready,
  names: natsNames(init.natsPrefix),
  files,
  log: log.child({ module: 'links-sync' }),
  batchMax: init.batchMax,
  flushMs: init.flushMs,
  maxBehindMs: init.maxBehindMs,
  events: {
    connected(up) {
      everConnected ||= up;
      state.set('nats_connected', up ? 1 : 0);
    },
    progress(p) {
      state.set('applied_seq', p.appliedSeq);
      state.set('stream_seq', p.streamSeq);
      state.set('links', p.stats.links);
      state.set('domains', p.stats.domains);
      state.set('lmdb_bytes', p.stats.bytes);
      state.set('applied_entries', p.appliedEntries);
      state.set('transactions', p.transactions);
      state.set('rebuilds', p.rebuilds);
      state.set('store_write_failures', p.storeWriteFailures);
      state.set('store_writes_failing', p.storeWritesFailing ? 1 : 0);
      state.set('sync_stalled', p.stalled ? 1 : 0);
      state.set('live_applied', p.liveApplied);
      state.set('live_ignored', p.liveIgnored);
      state.set('kv_superseded', p.kvSuperseded);
    },
    ready() {
      state.set('ready', 1);
      afterReplay();
    },
    /** The supervisor switches every serving thread, then answers `swapped`. */
    switchReaders(path) {
      const id = ++swapId;
      return new Promise<void>((done) => {
        swaps.set(id, done);
        post({ type: 'swap', id, path });
      });
    },
  },
});
const running = sync.run();

sampleMemory();
const memoryTimer = setInterval(sampleMemory, 5000);
const storedSeq = files.current.meta()?.seq ?? 0;
const staleTimer = init.readyWithoutNatsMs > 0 && storedSeq > 0
  ? setTimeout(() => {
      if (!everConnected && state.get('ready') === 0) {
        log.warn({ storedSeq, afterMs: init.readyWithoutNatsMs }, 'NATS unreachable since start: ready with the stored snapshot');
        state.set('ready', 1);
      }
    }, init.readyWithoutNatsMs)
  : null;

port.on('message', (m: ToSync) => {
  if (m.type === 'swapped') {
    swaps.get(m.id)?.();
    swaps.delete(m.id);
    afterReplay(); // a rebuild replayed the bucket into the generation now served
  } else if (m.type === 'stop') {
    void (async () => {
      if (staleTimer) clearTimeout(staleTimer);
      if (settleTimer) clearTimeout(settleTimer);
      clearInterval(memoryTimer);
      await sync.stop();
      await running;
      await nats.close();
      await files.close();
      post({ type: 'stopped' });
      port.close();
    })();
  }
});
