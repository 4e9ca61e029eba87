/** Opening the node's LMDB environment: one file per generation, three named databases. */
import { open, type Database, type RootDatabase, type Transaction } from 'lmdb';

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

export function openStoreDbs(path: string, readOnly: boolean): StoreDbs {
  // noReadAhead (MDB_NORDAHEAD): lookups are random, read-ahead would only fill RSS; lmdb-js supports it, its typings lack it
  const options = { path, maxDbs: 4, mapSize, noReadAhead: true, readOnly, cache: false };
  const env = open(options);
  const links = env.openDB<Buffer, string>({ name: 'links', encoding: 'binary', cache: false });
  const domains = env.openDB<Buffer, string>({ name: 'domains', encoding: 'binary', cache: false });
  return {
    env,
    links,
    domains,
    meta: env.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack', cache: false }),
    getLink: links.getBinaryFast.bind(links) as FastGet,
    getDomain: domains.getBinaryFast.bind(domains) as FastGet,
  };
}
