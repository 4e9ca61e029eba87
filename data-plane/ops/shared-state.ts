/**
 * State the main thread and the worker threads share without messages: one SharedArrayBuffer of
 * float64 slots. The main thread writes the gauges (ready, sync progress, store size); each worker
 * writes only its own block of request counters and latency histogram; whoever answers /metrics
 * or /readyz reads them all. Single writer per slot, so no locks.
 */

export const GAUGES = [
  'ready',
  'draining',
  'nats_connected',
  'applied_seq',
  'stream_seq',
  'links',
  'domains',
  'lmdb_bytes',
  'applied_entries',
  'transactions',
  'rebuilds',
  'sync_heap_used',
  'sync_heap_total',
  'sync_external',
  'clicks_received',
  'clicks_spooled',
  'clicks_shipped',
  'clicks_dropped',
  'click_ship_errors',
  'click_spool_clicks',
  'click_spool_bytes',
  'clicks_backlog_dropped',
  'click_backlog_bytes',
  'sync_stalled',
  'store_write_failures',
  'store_writes_failing',
  'clicks_held',
  'click_spool_failing',
  'live_applied',
  'live_ignored',
  'kv_superseded',
] as const;
export type GaugeName = (typeof GAUGES)[number];
const GAUGE_INDEX = Object.fromEntries(GAUGES.map((g, i) => [g, i])) as Record<GaugeName, number>;

/** Statuses counted individually; anything else counts as `other`. */
export const STATUSES = [200, 301, 302, 307, 308, 400, 404, 405, 410, 500, 503] as const;
/**
 * One request in DECISION_SAMPLE has its decision timed into the latency histogram (a power of two):
 * the histogram is a sample of the requests (its count ≈ decisions / DECISION_SAMPLE), so that the
 * others pay no clock reads. `requests_total` counts every request.
 */
export const DECISION_SAMPLE = 8;
/** Decision latency buckets, seconds. */
export const LATENCY_BUCKETS = [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01] as const;

const GAUGE_SLOTS = 48;
const W_STATUS = 0;
const W_BUCKETS = W_STATUS + STATUSES.length + 1;
const W_SUM = W_BUCKETS + LATENCY_BUCKETS.length + 1;
const W_COUNT = W_SUM + 1;
const W_DECODE_ERRORS = W_COUNT + 1;
const WORKER_SLOTS = W_DECODE_ERRORS + 1;

export class SharedState {
  readonly slots: Float64Array;

  constructor(readonly buffer: SharedArrayBuffer, readonly workers: number) {
    this.slots = new Float64Array(buffer);
  }

  static create(workers: number): SharedState {
    return new SharedState(new SharedArrayBuffer((GAUGE_SLOTS + workers * WORKER_SLOTS) * 8), workers);
  }

  set(name: GaugeName, value: number): void {
    this.slots[GAUGE_INDEX[name]] = value;
  }

  get(name: GaugeName): number {
    return this.slots[GAUGE_INDEX[name]]!;
  }

  workerBase(index: number): number {
    return GAUGE_SLOTS + index * WORKER_SLOTS;
  }

  /** Sum over workers of one per-worker slot. */
  sum(offset: number): number {
    let total = 0;
    for (let w = 0; w < this.workers; w++) total += this.slots[this.workerBase(w) + offset]!;
    return total;
  }
}

/** A worker's writer for its own block: counts a request and its decision latency. */
export class RequestRecorder {
  readonly #slots: Float64Array;
  readonly #base: number;
  #decisions = 0;

  constructor(state: SharedState, workerIndex: number) {
    this.#slots = state.slots;
    this.#base = state.workerBase(workerIndex);
  }

  status(code: number): void {
    let i: number = STATUSES.length; // other
    for (let s = 0; s < STATUSES.length; s++) {
      if (STATUSES[s] === code) {
        i = s;
        break;
      }
    }
    this.#slots[this.#base + W_STATUS + i]!++;
  }

  /** Whether this decision is one of the timed sample (one in DECISION_SAMPLE): call once per decision. */
  timed(): boolean {
    return (++this.#decisions & (DECISION_SAMPLE - 1)) === 0;
  }

  /** Decision latency in milliseconds (performance.now() units), of a timed decision. */
  latency(ms: number): void {
    const seconds = ms / 1000;
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    const s = this.#slots;
    const base = this.#base;
    s[base + W_BUCKETS + b]!++;
    s[base + W_SUM] = s[base + W_SUM]! + seconds;
    s[base + W_COUNT]!++;
  }

  setDecodeErrors(n: number): void {
    this.#slots[this.#base + W_DECODE_ERRORS] = n;
  }
}

export const WORKER_OFFSETS = { W_STATUS, W_BUCKETS, W_SUM, W_COUNT, W_DECODE_ERRORS } as const;
