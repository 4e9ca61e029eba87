/** Opening the node's LMDB environment: one file per generation, three named databases. */
import { open, type Database, type DatabaseOptions, type RootDatabase, type Transaction } from 'lmdb';

/** lmdb-js's zero-copy read; its typings omit the options argument (`transaction`). */
export type FastGet = (key: string, options?: { transaction?: Transaction }) => Buffer | undefined;

export interface StoreDbs {
  env: RootDatabase;
  /** `domain/path` → encoded link (value-codec.ts). */
  links: Database<Buffer, string>;
  /** hostname → encoded domain. */
  domains: Database<Buffer, string>;
  /** Sync bookkeeping (StoreMeta). */
  meta: Database<unknown, string>;
  getLink: FastGet;
  getDomain: FastGet;
}

/**
 * Virtual size reserved for the map; the file only grows as data is written. LMDB_MAP_SIZE_GB
 * lowers it where address space is limited (`ulimit -v`, valgrind); every thread that opens the
 * store sets it from its init data (module state is per thread).
 */
let mapSize = 64 * 1024 ** 3;

export function setLmdbMapSize(bytes: number): void {
  mapSize = bytes;
}

export function lmdbMapSize(): number {
  return mapSize;
}

/**
 * The keys of the links and domains databases, written as their UTF-8 bytes: exactly the bytes
 * lmdb-js's default (ordered-binary) encoding writes for them, since they hold no control character
 * and start with a letter or digit. A key encoder of our own makes lmdb-js leave LMDB its own
 * comparator (memcmp): for its default keys it installs `compareFast`, which compares four bytes per
 * step through `htonl` calls — ~2.7 k instructions per lookup over 20 000 links against ~0.8 k
 * (callgrind). Same bytes and, for keys without NUL bytes, the same order: a store written before
 * is read the same way.
 */
const UTF8_KEYS = {
  writeKey(key: string | Uint8Array, target: Buffer, start: number): number {
    // bytes: a range bound of lmdb-js's own (iteration starts at [5], past its metadata keys)
    if (typeof key !== 'string') {
      target.set(key, start);
      return start + key.length;
    }
    const n = key.length;
    let p = start;
    for (let i = 0; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) return start + target.write(key, start, 'utf8');
      target[p++] = c;
    }
    return p;
  },
  readKey(buf: Buffer, start: number, end: number): string {
    return buf.toString('utf8', start, end);
  },
};

export function openStoreDbs(path: string, readOnly: boolean): StoreDbs {
  // noReadAhead (MDB_NORDAHEAD): lookups are random, read-ahead would only fill RSS; lmdb-js supports it, its typings lack it
  const options = { path, maxDbs: 4, mapSize, noReadAhead: true, readOnly, cache: false };
  const env = open(options);
  // keyEncoder: lmdb-js's typings lack it
  const keyed = (name: string) => ({ name, encoding: 'binary', cache: false, keyEncoder: UTF8_KEYS }) as DatabaseOptions & { name: string };
  const links = env.openDB<Buffer, string>(keyed('links'));
  const domains = env.openDB<Buffer, string>(keyed('domains'));
  return {
    env,
    links,
    domains,
    meta: env.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack', cache: false }),
    getLink: links.getBinaryFast.bind(links) as FastGet,
    getDomain: domains.getBinaryFast.bind(domains) as FastGet,
  };
}
