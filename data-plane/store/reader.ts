/**
 * A worker's read side of the store. A plain link is read from its header on every request (no
 * decoding at all); a link with rules has its JSON decoded and prepared once per version: the
 * cache is keyed by link and checked against the stamp in the header, so an update is picked up
 * on the next request and a stale entry is never served.
 *
 * Snapshots: left to itself, lmdb-js renews a read transaction on every event-loop turn (a timer
 * and two native calls per turn, i.e. per request without pipelining). When the caller passes
 * `commits` (a counter the writer bumps after each commit), the reader holds one read
 * transaction and renews it only when that counter moves: same freshness, no per-turn cost.
 */
import type { Transaction } from 'lmdb';
import { StoreError } from '../../shared/index.js';
import { BoundedCache } from '../bounded-cache.js';
import type { DomainRecord, LinkRecord } from '../link-record.js';
import type { Routing } from '../routing.js';
import { openStoreDbs, type StoreDbs } from './lmdb-env.js';
import { HEADER_BYTES, decodeDomain, decodeLink, decodeRouting, readStamp, type RoutingSource } from './value-codec.js';

/** LMDB's key limit in lmdb-js is 1978 bytes; a longer key cannot name a stored link. */
const MAX_KEY_CHARS = 600;

interface CachedRouting {
  stamp: number;
  routing: Routing | null;
}
interface CachedDomain {
  stamp: number;
  record: DomainRecord | null;
}

export class StoreReader {
  #dbs: StoreDbs;
  #path: string;
  readonly #rules: BoundedCache<string, CachedRouting>;
  readonly #domains = new BoundedCache<string, CachedDomain>(10_000);
  readonly #commits: (() => number) | null;
  #seenCommits = -1;
  #txn: Transaction | null = null;
  /** Passed to every read; `transaction` undefined → lmdb-js manages snapshots itself. */
  readonly #readOptions: { transaction?: Transaction } = {};
  /** Values that failed to decode, for the metrics (should stay 0). */
  decodeErrors = 0;

  /** `ruleCacheSize`: prepared rules kept (links with rules or a split). */
  constructor(path: string, ruleCacheSize: number, commits?: () => number) {
    this.#path = path;
    this.#dbs = StoreReader.#open(path);
    this.#rules = new BoundedCache(ruleCacheSize);
    this.#commits = commits ?? null;
  }

  /** The read options for this request: a snapshot at least as new as the writer's last commit. */
  #read(): { transaction?: Transaction } {
    if (this.#commits === null) return this.#readOptions;
    const c = this.#commits();
    if (c !== this.#seenCommits || this.#txn === null) {
      this.#releaseTxn();
      this.#dbs.env.resetReadTxn(); // otherwise useReadTransaction may hand back this turn's older snapshot
      this.#txn = this.#dbs.env.useReadTransaction();
      this.#readOptions.transaction = this.#txn;
      this.#seenCommits = c;
    }
    return this.#readOptions;
  }

  /**
   * Lets go of a snapshot the writer has moved past. An idle worker would otherwise pin it, and
   * LMDB could not reuse the pages freed since (the file would grow during a replay). Call it
   * now and then (the serving thread does, every second).
   */
  releaseIfStale(): void {
    if (this.#txn !== null && this.#commits !== null && this.#commits() !== this.#seenCommits) this.#releaseTxn();
  }

  #releaseTxn(): void {
    if (this.#txn !== null) {
      this.#txn.done();
      this.#txn = null;
      this.#readOptions.transaction = undefined;
    }
  }

  static #open(path: string): StoreDbs {
    try {
      return openStoreDbs(path, true);
    } catch (cause) {
      throw new StoreError(`cannot open LMDB store ${path} for reading`, { cause });
    }
  }

  get path(): string {
    return this.#path;
  }

  /**
   * The stored link for `domain/path`, or null. Never throws: a bad key or value is a miss.
   * `ids` false: its `linkId` and `workspaceId` are '' (read only for clicks and access log lines).
   */
  link(storeKey: string, ids = true): LinkRecord | null {
    if (storeKey.length > MAX_KEY_CHARS) return null;
    let buf: Buffer | undefined;
    try {
      buf = this.#dbs.getLink(storeKey, this.#read());
    } catch {
      return null;
    }
    if (buf === undefined) return null;
    return decodeLink(storeKey, buf, this.#routingOf, ids);
  }

  /** Prepared rules for the link being read: from the cache when the stamp matches, else decoded. */
  readonly #routingOf: RoutingSource = (key, buf, stamp, tailStart) => {
    const cached = this.#rules.get(key);
    if (cached !== undefined && cached.stamp === stamp) return cached.routing;
    let routing: Routing | null = null;
    try {
      routing = decodeRouting(buf, tailStart);
    } catch {
      this.decodeErrors++; // undecodable rules: the destination is still a stored, checked URL
    }
    this.#rules.set(key, { stamp, routing });
    return routing;
  };

  domain(host: string): DomainRecord | null {
    if (host.length === 0 || host.length > 253) return null;
    let buf: Buffer | undefined;
    try {
      buf = this.#dbs.getDomain(host, this.#read());
    } catch {
      return null;
    }
    if (buf === undefined || buf.length < HEADER_BYTES) return null;
    const stamp = readStamp(buf);
    const cached = this.#domains.get(host);
    if (cached !== undefined && cached.stamp === stamp) return cached.record;
    const record = decodeDomain(buf);
    if (record === null) this.decodeErrors++;
    this.#domains.set(host, { stamp, record });
    return record;
  }

  /** Switches to another generation of the store (after a rebuild) and closes the old one. */
  async reopen(path: string): Promise<void> {
    const next = StoreReader.#open(path);
    this.#releaseTxn();
    const old = this.#dbs;
    this.#dbs = next;
    this.#path = path;
    this.#rules.clear();
    this.#domains.clear();
    await old.env.close();
  }

  async close(): Promise<void> {
    this.#releaseTxn();
    await this.#dbs.env.close();
  }
}
