/**
 * The main thread's view of LMDB_PATH: which generation is served, opening it (or starting a
 * fresh one when it is missing, damaged or of another format), and building a replacement
 * generation next to it for a rebuild.
 */
import { join } from 'node:path';
import type { Logger } from '../../shared/index.js';
import { checkStoreFile, type StoreCheck } from './check-store.js';
import { currentGeneration, ensureStoreDir, nextGeneration, removeGenerations, setCurrentGeneration } from './generations.js';
import { STORE_FORMAT, StoreWriter } from './writer.js';

export class StoreFiles {
  #current: StoreWriter;
  #currentName: string;

  private constructor(readonly dir: string, current: StoreWriter, name: string, private readonly log: Logger) {
    this.#current = current;
    this.#currentName = name;
  }

  /**
   * Opens the served generation, replacing it with an empty one if it cannot be used. The file is
   * checked in a child process first (`check`), because a damaged file can crash lmdb-js.
   */
  static open(dir: string, log: Logger, check: (path: string) => StoreCheck = checkStoreFile): StoreFiles {
    ensureStoreDir(dir);
    const name = currentGeneration(dir);
    const verdict = name === null ? null : check(join(dir, name));
    if (name !== null && verdict?.ok === false) {
      log.error({ generation: name, problem: verdict.detail }, 'store is damaged: starting a fresh one and replaying the stream');
    } else if (name !== null) {
      try {
        const writer = StoreWriter.open(join(dir, name));
        const meta = writer.meta();
        if (meta === null || meta.format === STORE_FORMAT) {
          removeGenerations(dir, [name]); // leftovers of an interrupted rebuild
          return new StoreFiles(dir, writer, name, log);
        }
        log.warn({ generation: name, format: meta.format, expected: STORE_FORMAT }, 'store has another format: starting a fresh one');
        void writer.close();
      } catch (err) {
        log.error({ err, generation: name }, 'store is damaged: starting a fresh one and replaying the stream');
      }
    } else {
      log.info({ dir }, 'no store yet: starting a fresh one');
    }
    const fresh = nextGeneration(dir);
    const writer = StoreWriter.open(join(dir, fresh));
    setCurrentGeneration(dir, fresh);
    removeGenerations(dir, [fresh]);
    return new StoreFiles(dir, writer, fresh, log);
  }

  get current(): StoreWriter {
    return this.#current;
  }

  get currentPath(): string {
    return join(this.dir, this.#currentName);
  }

  /** An empty generation beside the served one, to replay into. */
  createNext(): { writer: StoreWriter; name: string } {
    removeGenerations(this.dir, [this.#currentName]);
    const name = nextGeneration(this.dir);
    return { writer: StoreWriter.open(join(this.dir, name)), name };
  }

  /**
   * Makes a rebuilt generation the served one. `switchReaders` must resolve once no reader uses
   * the old file any more; then the old file is closed and deleted.
   */
  async promote(next: { writer: StoreWriter; name: string }, switchReaders: (path: string) => Promise<void>): Promise<void> {
    const old = this.#current;
    setCurrentGeneration(this.dir, next.name);
    this.#current = next.writer;
    this.#currentName = next.name;
    await switchReaders(join(this.dir, next.name));
    await old.close();
    removeGenerations(this.dir, [next.name]);
    this.log.info({ generation: next.name }, 'rebuilt store is now served');
  }

  async discard(next: { writer: StoreWriter; name: string }): Promise<void> {
    await next.writer.close();
    removeGenerations(this.dir, [this.#currentName]);
  }

  async close(): Promise<void> {
    await this.#current.close();
  }
}
