/**
 * The node's durable click spool: one file per encoded batch (`<batchId>.<events>.clk`, written to
 * a temporary name, synced, renamed), so a batch survives a crash or a restart the moment `append`
 * resolves, and a half-written file is never shipped. The shipper takes files oldest first and
 * deletes each only after JetStream acknowledged it.
 *
 * Bounded by `maxBytes` (CLICK_SPOOL_MAX_MB): while NATS is away the spool grows; past the bound
 * the oldest batches are deleted, counted (`onDrop`) and logged — redirects never wait for room.
 *
 * A batch appended by this process keeps its bytes in memory too (up to `memoryBytes` of them, 4 MB by default), so
 * shipping it does not read the file back: in the steady state a batch is written and synced once,
 * shipped from memory and unlinked. Batches past that budget, and those found at start, are read
 * from their file.
 */
import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../shared/index.js';

export interface SpoolEntry {
  batchId: string;
  events: number;
  bytes: number;
  file: string;
  /** The batch's bytes while they are also kept in memory. */
  data?: Uint8Array;
}

export interface ClickSpoolOptions {
  dir: string;
  maxBytes: number;
  log: Logger;
  /** Sync each batch to disk before counting it as spooled (default true). */
  fsync?: boolean;
  /** Most bytes of spooled batches also kept in memory for shipping (default 4 MB: enough to ship from memory at any steady rate). */
  memoryBytes?: number;
  /** Batches deleted unshipped because the spool was full. */
  onDrop?(events: number, batches: number): void;
}

const NAME = /^([A-Za-z0-9_-]{1,128})\.(\d{1,9})\.clk$/;

export class ClickSpool {
  private readonly queue: SpoolEntry[] = [];
  private readonly inFlight = new Set<string>();
  private bytes = 0;
  private events = 0;
  /** Bytes of queued batches whose data is kept in memory. */
  private held = 0;
  private waiters: (() => void)[] = [];

  private constructor(private readonly opts: ClickSpoolOptions) {}

  /** Opens (creating) the spool directory and picks up every batch a previous run left. */
  static open(opts: ClickSpoolOptions): ClickSpool {
    const spool = new ClickSpool(opts);
    mkdirSync(opts.dir, { recursive: true });
    const found: SpoolEntry[] = [];
    for (const f of readdirSync(opts.dir)) {
      const file = join(opts.dir, f);
      if (f.endsWith('.tmp')) {
        unlinkSync(file); // never renamed: the batch was not acknowledged to anyone as spooled
        continue;
      }
      const m = NAME.exec(f);
      if (!m) continue;
      found.push({ batchId: m[1]!, events: Number(m[2]), bytes: statSync(file).size, file });
    }
    found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
    for (const e of found) spool.push(e);
    if (found.length > 0) opts.log.info({ batches: found.length, events: spool.events, bytes: spool.bytes }, 'click spool has batches from a previous run');
    return spool;
  }

  get size(): { batches: number; events: number; bytes: number } {
    return { batches: this.queue.length, events: this.events, bytes: this.bytes };
  }

  private push(e: SpoolEntry): void {
    this.queue.push(e);
    this.bytes += e.bytes;
    this.events += e.events;
    if (e.data) this.held += e.bytes;
  }

  private forget(e: SpoolEntry): void {
    this.bytes -= e.bytes;
    this.events -= e.events;
    if (e.data) this.held -= e.bytes;
  }

  /** Writes a batch durably; resolves once it is on disk. */
  async append(batchId: string, data: Uint8Array, events: number): Promise<void> {
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(batchId)) throw new Error(`bad batch id ${JSON.stringify(batchId)}`);
    const file = join(this.opts.dir, `${batchId}.${events}.clk`);
    const tmp = `${file}.tmp`;
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(data);
        if (this.opts.fsync !== false) await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (err) {
      // a full disk leaves a partial file: remove it, or it keeps the space the retry needs
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const keep = this.held + data.byteLength <= (this.opts.memoryBytes ?? 4 * 1024 * 1024);
    this.push({ batchId, events, bytes: data.byteLength, file, ...(keep ? { data } : {}) });
    this.enforceBound();
    for (const w of this.waiters.splice(0)) w();
  }

  private enforceBound(): void {
    let droppedEvents = 0;
    let droppedBatches = 0;
    for (let i = 0; this.bytes > this.opts.maxBytes && i < this.queue.length; ) {
      const e = this.queue[i]!;
      if (this.inFlight.has(e.batchId) || this.queue.length === 1) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.forget(e);
      droppedEvents += e.events;
      droppedBatches++;
      try {
        unlinkSync(e.file);
      } catch {
        // already gone
      }
    }
    if (droppedBatches > 0) {
      this.opts.log.warn(
        { droppedEvents, droppedBatches, maxBytes: this.opts.maxBytes, spooled: this.size },
        'click spool full: oldest clicks dropped (NATS unreachable for too long, or CLICK_SPOOL_MAX_MB too small)',
      );
      this.opts.onDrop?.(droppedEvents, droppedBatches);
    }
  }

  /** Up to `n` of the oldest batches not already being shipped (marked in flight). */
  take(n: number): SpoolEntry[] {
    const out: SpoolEntry[] = [];
    for (const e of this.queue) {
      if (out.length >= n) break;
      if (this.inFlight.has(e.batchId)) continue;
      this.inFlight.add(e.batchId);
      out.push(e);
    }
    return out;
  }

  /** The batch's bytes: from memory when kept, else from its file. */
  read(e: SpoolEntry): Promise<Uint8Array> {
    return e.data ? Promise.resolve(e.data) : readFile(e.file);
  }

  /** The batch is safely in JetStream: forget it. */
  async done(e: SpoolEntry): Promise<void> {
    this.inFlight.delete(e.batchId);
    const i = this.queue.indexOf(e);
    if (i < 0) return; // dropped meanwhile
    this.queue.splice(i, 1);
    this.forget(e);
    await unlink(e.file).catch(() => undefined);
  }

  /** Shipping failed: the batch stays, to be taken again. */
  release(e: SpoolEntry): void {
    this.inFlight.delete(e.batchId);
  }

  /** Resolves when a batch is appended (or after `ms`). */
  waitForBatch(ms: number): Promise<void> {
    if (this.queue.length > this.inFlight.size) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const waiters = this.waiters;
      function done() {
        clearTimeout(t);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Wakes anyone waiting (stop). */
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
