/**
 * The single writer of a store generation (the main thread's sync). Every batch of KV updates is
 * applied in ONE write transaction together with the stream sequence it reaches, so the store and
 * its resume point can never disagree, whatever kills the process.
 */
import { statSync } from 'node:fs';
import { StoreError } from '../../shared/index.js';
import { openStoreDbs, type StoreDbs } from './lmdb-env.js';

/** Bump when the stored layout changes: a node finding another format rebuilds its store. */
export const STORE_FORMAT = 1;

export interface StoreMeta {
  format: number;
  /** Bucket the store replicates. */
  bucket: string;
  /** Creation time of the bucket's stream: a recreated bucket is a different history. */
  streamCreated: string;
  /** Last stream sequence applied. */
  seq: number;
}

export interface StoreOp {
  db: 'links' | 'domains';
  key: string;
  /** null: delete. */
  value: Buffer | null;
}

export interface StoreStats {
  links: number;
  domains: number;
  /** Size of the LMDB file. */
  bytes: number;
}

const META_KEY = 'sync';

export class StoreWriter {
  readonly #dbs: StoreDbs;

  private constructor(readonly path: string, dbs: StoreDbs) {
    this.#dbs = dbs;
  }

  /** Opens (creating if missing) a generation for writing; a StoreError means it is unreadable. */
  static open(path: string): StoreWriter {
    let dbs: StoreDbs;
    try {
      dbs = openStoreDbs(path, false);
      dbs.meta.get(META_KEY); // touch the data: a damaged file fails here rather than later
      dbs.links.getStats();
    } catch (cause) {
      throw new StoreError(`LMDB store ${path} cannot be opened`, { cause });
    }
    return new StoreWriter(path, dbs);
  }

  meta(): StoreMeta | null {
    this.#dbs.env.resetReadTxn(); // see stats()
    const m = this.#dbs.meta.get(META_KEY) as StoreMeta | undefined;
    return m && typeof m.seq === 'number' ? m : null;
  }

  /** Applies `ops` and records `meta` in one transaction. */
  apply(ops: readonly StoreOp[], meta: StoreMeta): void {
    const { env, links, domains } = this.#dbs;
    try {
      env.transactionSync(() => {
        for (const op of ops) {
          const db = op.db === 'links' ? links : domains;
          if (op.value === null) db.removeSync(op.key);
          else db.putSync(op.key, op.value);
        }
        this.#dbs.meta.putSync(META_KEY, meta);
      });
    } catch (cause) {
      throw new StoreError(`LMDB write of ${ops.length} updates failed`, { cause });
    }
  }

  stats(): StoreStats {
    // a read snapshot taken earlier in this event-loop turn would not show our own latest commit
    this.#dbs.env.resetReadTxn();
    let bytes = 0;
    try {
      bytes = statSync(this.path).size;
    } catch {
      // the file is there while open; 0 only if it vanished
    }
    const count = (db: { getStats(): object }) => (db.getStats() as { entryCount?: number }).entryCount ?? 0;
    return { links: count(this.#dbs.links), domains: count(this.#dbs.domains), bytes };
  }

  async close(): Promise<void> {
    await this.#dbs.env.close();
  }
}
