/**
 * The serving thread's own work per request, in one process and without sockets: server.ts's
 * handler over a real store (LMDB, 20 000 of the bench's plain links) and, with capture on, a real
 * click ring (drained as the main thread would, its cost included), driven through stand-ins for
 * uWS's request and response (their header strings made fresh per request, as uWS makes them).
 * What is left is the node's JavaScript and the LMDB get, not uWS. Or one item of that work alone,
 * to see what each costs.
 *
 *   npm run build && node dist/bench/micro/serve-path.js <case> <n>
 *     case: on | off (the handler, capture on / off) | one of ITEMS below
 *
 * Under callgrind, once with n and once with 2n: (count(2n) − count(n)) / n is the instructions per
 * request (start-up, store building and JIT warm-up cancel out):
 *
 *   for n in 200000 400000; do valgrind --tool=callgrind --callgrind-out-file=/tmp/sp.$n node \
 *     dist/bench/micro/serve-path.js on $n; done
 *
 * Without valgrind it prints CPU ns per request (noisy on a shared machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickRingReader, ClickRingWriter, createClickRing } from '../../data-plane/clicks/click-ring.js';
import { noopClickSink } from '../../data-plane/clicks/click-sink.js';
import { plainFacts, type FactDeps } from '../../data-plane/facts.js';
import type { UwsModule } from '../../data-plane/native-uws.js';
import { GAUGES, RequestRecorder, SharedState } from '../../data-plane/ops/shared-state.js';
import { resolve } from '../../data-plane/resolve.js';
import { buildServer } from '../../data-plane/server.js';
import { setLmdbMapSize } from '../../data-plane/store/lmdb-env.js';
import { StoreReader } from '../../data-plane/store/reader.js';
import { decodeLink, encodeLink } from '../../data-plane/store/value-codec.js';
import { STORE_FORMAT, StoreWriter } from '../../data-plane/store/writer.js';
import { compileLink, createLogger, requestHost, requestPathToLinkPath, storeKey } from '../../shared/index.js';
import { BENCH_DOMAIN, BENCH_DOMAIN_SETTINGS, plainPath, plainSource, visitorHeaderSets } from '../lib/link-dataset.js';

const which = process.argv[2] ?? 'on';
const N = Number(process.argv[3] ?? 200_000);
const LINKS = 20_000;
const WARM = 50_000;

// valgrind cannot reserve the default 64 GiB map (the instructions scenario sets LMDB_MAP_SIZE_GB=4 too)
setLmdbMapSize(1024 ** 3);
const dir = mkdtempSync(join(tmpdir(), 'lp-serve-path-'));
const storePath = join(dir, 'gen-1.mdb');
const writer = StoreWriter.open(storePath);
const encoded: Buffer[] = [];
writer.apply(Array.from({ length: LINKS }, (_, i) => {
  const l = compileLink(plainSource(i), BENCH_DOMAIN_SETTINGS);
  const value = encodeLink(l, Buffer.from(JSON.stringify(l)), i + 1);
  encoded.push(value);
  return { db: 'links' as const, key: storeKey(l.domain, l.path), value };
}), { format: STORE_FORMAT, bucket: 'b', streamCreated: 'c', seq: LINKS });
await writer.close();

const state = SharedState.create(1);
state.set('ready', 1);
const transactions = GAUGES.indexOf('transactions');
const store = new StoreReader(storePath, 1000, () => state.slots[transactions]!);
const ring = which === 'on' ? createClickRing() : null;
const reader = ring === null ? null : new ClickRingReader(ring);
let handler: ((res: unknown, req: unknown) => void) | null = null;
const uws = { App: () => ({ any: (_p: string, h: typeof handler) => (handler = h) }) } as unknown as UwsModule;
buildServer({
  uws, store, state, recorder: new RequestRecorder(state, 0), nodeId: 'n1',
  sink: ring === null ? noopClickSink : new ClickRingWriter(ring),
  facts: { geo: null, device: null, trustedProxies: [] } as unknown as FactDeps,
  log: createLogger({ name: 'serve-path', level: 'silent' }),
});

const fresh = (s: string) => Buffer.from(s, 'latin1').toString('latin1');
const visitors = visitorHeaderSets(1000).map((h) => Object.entries(h));
const urls = Array.from({ length: LINKS }, (_, i) => `/${plainPath(i)}`);
const addr = new Uint8Array([127, 0, 0, 1]);
let statuses = 0;
const res = {
  writeStatus() {
    statuses++;
  },
  writeHeader() {},
  end() {},
  endWithoutBody() {},
  getRemoteAddress: () => addr.slice().buffer,
  onAborted() {},
  close() {},
};
let headers: [string, string][] = [];
let url = '';
const req = {
  forEach(cb: (k: string, v: string) => void) {
    cb(fresh('host'), fresh(BENCH_DOMAIN));
    for (const [k, v] of headers) cb(fresh(k), fresh(v));
  },
  getHeader: () => '',
  getMethod: () => fresh('get'),
  getUrl: () => fresh(url),
  getQuery: () => undefined,
};

function request(i: number): void {
  const k = (i * 7919) % LINKS;
  url = urls[k]!;
  headers = visitors[i % visitors.length]!;
  handler!(res, req);
  if (reader !== null && (i & 1023) === 0) reader.drainRecords(1 << 30, () => undefined);
}

/** Items of the handler's work, alone (each over the same keys). */
const host = BENCH_DOMAIN;
const paths = Array.from({ length: LINKS }, (_, i) => plainPath(i));
let sink = 0;
const recorder = new RequestRecorder(state, 0);
const ITEMS: Record<string, (i: number) => void> = {
  // the empty loop: subtract it from the items
  none: (i) => {
    sink += i & 1;
  },
  'date-now': () => {
    sink += Date.now() & 1;
  },
  'performance-now': () => {
    sink += performance.now() > 0 ? 1 : 0;
  },
  'state-get': () => {
    sink += state.get('draining');
  },
  'slot-read': () => {
    sink += state.slots[1]!;
  },
  'host-path-key': (i) => {
    const key = storeKey(requestHost(fresh(host)), requestPathToLinkPath(fresh(urls[(i * 7919) % LINKS]!))!);
    sink += key.charCodeAt(key.length - 1); // flattened, as the key writer does
  },
  'key-concat': (i) => {
    const key = storeKey(host, paths[(i * 7919) % LINKS]!);
    sink += key.charCodeAt(key.length - 1); // flattened, as the key writer does
  },
  'store-link-ids': (i) => {
    sink += store.link(`${host}/${paths[(i * 7919) % LINKS]!}`, true)!.stamp;
  },
  'store-link-no-ids': (i) => {
    sink += store.link(`${host}/${paths[(i * 7919) % LINKS]!}`, false)!.stamp;
  },
  'decode-ids': (i) => {
    sink += decodeLink('k', encoded[(i * 7919) % LINKS]!, () => null, true)!.stamp;
  },
  'decode-no-ids': (i) => {
    sink += decodeLink('k', encoded[(i * 7919) % LINKS]!, () => null, false)!.stamp;
  },
  resolve: (i) => {
    const link = decodeLink('k', encoded[(i * 7919) % LINKS]!, () => null, false)!;
    sink += resolve({ host, path: 'p', link, domain: null }, plainFacts(''), 0).status;
  },
  'recorder-status': () => {
    recorder.status(302);
  },
};

const run = which === 'on' || which === 'off' ? request : ITEMS[which];
if (run === undefined) throw new Error(`unknown case ${which}: on, off, ${Object.keys(ITEMS).join(', ')}`);
for (let i = 0; i < WARM; i++) run(i);
const t0 = process.cpuUsage();
for (let i = 0; i < N; i++) run(WARM + i);
const u = process.cpuUsage(t0);
process.stdout.write(`${which}: ${N} in ${(((u.user + u.system) * 1000) / N).toFixed(0)} ns CPU each (${statuses} answered, ${sink & 1})\n`);
await store.close();
rmSync(dir, { recursive: true, force: true });
