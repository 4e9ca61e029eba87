/**
 * Country of an IP from a MaxMind database (GEOIP_DB). The file is read once by the main thread
 * into shared memory and every worker wraps the same bytes. Decoded records are cached by their
 * offset in the database (a country DB has a few hundred distinct records), so a lookup is a tree
 * walk plus a map hit.
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

export function openGeo(db: SharedArrayBuffer | Buffer): Geo {
  const bytes = Buffer.isBuffer(db) ? db : Buffer.from(db);
  const reader = new Reader<CountryResponse>(bytes, { cache: new Map() });
  return {
    country(ip) {
      const r = reader.get(ip.text);
      return r?.country?.iso_code ?? r?.registered_country?.iso_code ?? null;
    },
  };
}
