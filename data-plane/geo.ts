/**
 * Country of an IP from a MaxMind database (GEOIP_DB). The file is read once by the main thread
 * into shared memory and every worker wraps the same bytes.
 *
 * A lookup walks the database's search tree from the address's numeric words (the `Ip` the rule
 * path already parsed), not from its text: mmdb-lib's `get()` parses the string again into a byte
 * array and decodes the record it lands on. A country database has a few hundred distinct records,
 * so the country is cached by the record the walk ends on; only a record seen for the first time is
 * decoded (through mmdb-lib, from the address's text).
 */
import { readFileSync } from 'node:fs';
import { Reader, type CountryResponse } from 'maxmind';
import type { Ip } from './ip.js';

export interface Geo {
  /** ISO 3166-1 alpha-2 (upper case), or null for private/unknown addresses. */
  country(ip: Ip): string | null;
}

/** Reads the database into a SharedArrayBuffer that worker threads can wrap without copying. */
export function loadGeoDatabase(path: string): SharedArrayBuffer {
  const file = readFileSync(path);
  const shared = new SharedArrayBuffer(file.byteLength);
  new Uint8Array(shared).set(file);
  return shared;
}

type ReadRecord = (db: Buffer, offset: number) => number;

/** The left and right records of a node at `offset` (the layouts of mmdb-lib's walker). */
function recordReaders(recordSize: number): [ReadRecord, ReadRecord] | null {
  switch (recordSize) {
    case 24:
      return [(db, o) => (db[o]! << 16) | (db[o + 1]! << 8) | db[o + 2]!, (db, o) => (db[o + 3]! << 16) | (db[o + 4]! << 8) | db[o + 5]!];
    case 28:
      return [
        (db, o) => ((db[o + 3]! & 0xf0) << 20) | (db[o]! << 16) | (db[o + 1]! << 8) | db[o + 2]!,
        (db, o) => ((db[o + 3]! & 0x0f) << 24) | (db[o + 4]! << 16) | (db[o + 5]! << 8) | db[o + 6]!,
      ];
    case 32:
      return [(db, o) => db.readUInt32BE(o), (db, o) => db.readUInt32BE(o + 4)];
    default:
      return null;
  }
}

function countryOf(r: CountryResponse | null): string | null {
  return r?.country?.iso_code ?? r?.registered_country?.iso_code ?? null;
}

export function openGeo(db: SharedArrayBuffer | Buffer): Geo {
  const bytes = Buffer.isBuffer(db) ? db : Buffer.from(db);
  const reader = new Reader<CountryResponse>(bytes, { cache: new Map() });
  const { nodeCount, nodeByteSize, ipVersion, recordSize } = reader.metadata;
  const records = recordReaders(recordSize);
  if (records === null) return { country: (ip) => countryOf(reader.get(ip.text)) };
  const [left, right] = records;
  // IPv4 addresses in an IPv6 tree sit under ::/96: the node 96 left turns down
  let v4Start = 0;
  if (ipVersion === 6) {
    for (let i = 0; i < 96 && v4Start < nodeCount; i++) v4Start = left(bytes, v4Start * nodeByteSize);
  }
  /** Country by the record a walk ends on (the tree's value: nodeCount + data offset). */
  const byRecord = new Map<number, string | null>();
  return {
    country(ip) {
      if (ip.v6 && ipVersion !== 6) return null;
      const bits = ip.v6 ? 128 : 32;
      let node = ip.v6 ? 0 : v4Start;
      for (let depth = 0; depth < bits && node < nodeCount; depth++) {
        const bit = (ip.w[depth >>> 5]! >>> (31 - (depth & 31))) & 1;
        node = bit === 0 ? left(bytes, node * nodeByteSize) : right(bytes, node * nodeByteSize);
      }
      if (node <= nodeCount) return null; // nodeCount: no data for this address
      let country = byRecord.get(node);
      if (country === undefined) byRecord.set(node, (country = countryOf(reader.get(ip.text))));
      return country;
    },
  };
}
