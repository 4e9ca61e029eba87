/**
 * Entry of one redirect worker thread: wraps the shared geo database, opens the store read-only,
 * builds the uWS server and listens on the shared port (SO_REUSEPORT spreads connections across
 * the workers). Talks to the main thread only for lifecycle: listening, store swap, drain.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../shared/index.js';
import { ClickRingWriter } from './clicks/click-ring.js';
import { noopClickSink } from './clicks/click-sink.js';
import { createDeviceDetector } from './device.js';
import { openGeo } from './geo.js';
import { parseCidr, type Cidr } from './ip.js';
import { loadNativeUws } from './native-uws.js';
import { GAUGES, RequestRecorder, SharedState } from './ops/shared-state.js';
import { buildServer } from './server.js';
import { setLmdbMapSize } from './store/lmdb-env.js';
import { StoreReader } from './store/reader.js';

export interface WorkerInit {
  index: number;
  workers: number;
  host: string;
  port: number;
  nodeId: string;
  logLevel: string;
  trustedProxies: string[];
  ruleCacheSize: number;
  uaCacheSize: number;
  /** ACCESS_LOG_SAMPLE: the share of requests logged (0: none). */
  accessLogSample: number;
  storePath: string;
  /** LMDB_MAP_SIZE_GB in bytes. */
  lmdbMapBytes: number;
  state: SharedArrayBuffer;
  geo: SharedArrayBuffer;
  /** This thread's click ring (click-ring.ts; the main thread reads it), or null when CLICK_CAPTURE is off. */
  clickRing: SharedArrayBuffer | null;
}

export type ToWorker = { type: 'swap'; id: number; path: string } | { type: 'drain'; graceMs: number };
export type FromWorker =
  | { type: 'listening'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'swapped'; id: number }
  | { type: 'drained' };

const init = workerData as WorkerInit;
setLmdbMapSize(init.lmdbMapBytes);
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const log = createLogger({ name: 'data-plane', level: init.logLevel }).child({ module: 'worker', worker: init.index });

try {
  const uws = loadNativeUws();
  const state = new SharedState(init.state, init.workers);
  // the sync thread bumps `transactions` after every commit: a fresh snapshot is taken only then
  const slots = state.slots;
  const transactions = GAUGES.indexOf('transactions');
  const store = new StoreReader(init.storePath, init.ruleCacheSize, () => slots[transactions]!);
  const facts = {
    geo: openGeo(init.geo),
    device: createDeviceDetector(init.uaCacheSize),
    trustedProxies: init.trustedProxies.map(parseCidr).filter((c): c is Cidr => c !== null),
  };
  const recorder = new RequestRecorder(state, init.index);
  const server = buildServer({
    uws,
    store,
    facts,
    sink: init.clickRing === null ? noopClickSink : new ClickRingWriter(init.clickRing),
    state,
    recorder,
    nodeId: init.nodeId,
    log,
    accessLogSample: init.accessLogSample,
  });
  setInterval(() => {
    store.releaseIfStale();
    // /metrics is rendered by the main thread (operations port): it reads this slot
    recorder.setDecodeErrors(store.decodeErrors);
  }, 1000).unref();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'swap') {
      store.reopen(m.path).then(
        () => post({ type: 'swapped', id: m.id }),
        (err: unknown) => log.error({ err }, 'could not switch store generation'),
      );
    } else if (m.type === 'drain') {
      void server.drain(m.graceMs).then(async () => {
        // every click answered is in the ring by now: the main thread reads the rest after 'drained'
        await store.close().catch(() => undefined);
        post({ type: 'drained' });
        port.close();
      });
    }
  });
  const actual = await server.listen(init.host, init.port);
  post({ type: 'listening', port: actual });
} catch (err) {
  log.error({ err }, 'worker failed to start');
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  port.close();
}
