/**
 * One message of the links bucket → one store operation. Keys this product did not write are
 * ignored; values a node cannot serve (unknown format, unsafe destination) delete what was stored
 * under that key, so a node never keeps serving a version the control plane has replaced.
 */
import { decodeKvValue, parseKvKey } from '../../shared/index.js';
import { encodeDomain, encodeLink, InvalidValueError } from '../store/value-codec.js';
import type { StoreOp } from '../store/writer.js';

export interface KvChange {
  key: string;
  operation: 'PUT' | 'DEL' | 'PURGE';
  value: Uint8Array;
  revision: number;
}

export type EntryResult = { op: StoreOp; problem: null } | { op: StoreOp | null; problem: string };

export function entryToOp(e: KvChange): EntryResult {
  const parsed = parseKvKey(e.key);
  if (parsed === null) return { op: null, problem: `key ${e.key} is not a link or domain key` };
  const db = parsed.kind === 'link' ? 'links' : 'domains';
  const key = parsed.kind === 'link' ? parsed.storeKey : parsed.domain;
  if (e.operation !== 'PUT') return { op: { db, key, value: null }, problem: null };
  const value = decodeKvValue(e.value);
  const removal: StoreOp = { db, key, value: null };
  if (value === null) return { op: removal, problem: 'value is not a compiled rule this node understands' };
  if (value.kind !== parsed.kind) return { op: removal, problem: `a ${value.kind} value under a ${parsed.kind} key` };
  try {
    const buf = value.kind === 'link' ? encodeLink(value, e.value, e.revision) : encodeDomain(value, e.value, e.revision);
    return { op: { db, key, value: buf }, problem: null };
  } catch (err) {
    if (err instanceof InvalidValueError) return { op: removal, problem: err.message };
    throw err;
  }
}
