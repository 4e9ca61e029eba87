/**
 * The bound on encoded click batches waiting for the spool. A saturated node can encode batches
 * faster than the disk takes them; without a bound those batches pile up in memory. A batch's
 * bytes are added when it is handed to the spool and subtracted once it is on disk; a batch that
 * would take the backlog past its bound is dropped instead (counted: `clicks_dropped_total`,
 * reason `backlog`), so memory stays bounded and redirects never wait. (Before the encoded
 * clicks, the serving threads' click rings are bounded too: click-ring.ts.) Atomics on a shared
 * Int32Array, so any thread may add.
 */
const BYTES_KB = 0;
const DROPPED_EVENTS = 1;
const DROPPED_BATCHES = 2;
const MAX_KB = 3;

export class ClickBacklog {
  readonly #a: Int32Array;

  /** A view of a backlog made by `create` (its bound travels in the buffer). */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.#a = new Int32Array(buffer);
  }

  static create(maxBytes: number): ClickBacklog {
    const b = new ClickBacklog(new SharedArrayBuffer(4 * 4));
    Atomics.store(b.#a, MAX_KB, Math.max(1, Math.floor(maxBytes / 1024)));
    return b;
  }

  /** Serving thread: true if the batch may be posted (and is now counted), false if it must be dropped. */
  tryAdd(bytes: number, events: number): boolean {
    const kb = Math.ceil(bytes / 1024);
    const after = Atomics.add(this.#a, BYTES_KB, kb) + kb;
    if (after <= Atomics.load(this.#a, MAX_KB)) return true;
    Atomics.sub(this.#a, BYTES_KB, kb);
    Atomics.add(this.#a, DROPPED_EVENTS, events);
    Atomics.add(this.#a, DROPPED_BATCHES, 1);
    return false;
  }

  /** Main thread: the batch is on disk (or failed): its bytes leave the backlog. */
  done(bytes: number): void {
    Atomics.sub(this.#a, BYTES_KB, Math.ceil(bytes / 1024));
  }

  get bytes(): number {
    return Atomics.load(this.#a, BYTES_KB) * 1024;
  }

  get droppedEvents(): number {
    return Atomics.load(this.#a, DROPPED_EVENTS);
  }

  get droppedBatches(): number {
    return Atomics.load(this.#a, DROPPED_BATCHES);
  }
}
