/**
 * How a KV value is laid out in the node's LMDB: a fixed header with every field a plain redirect
 * needs (read on each request without any JSON parsing), the strings, then — only for links with
 * rules or a split — the compiled rule's JSON, decoded once per version by the reader's cache.
 *
 *   0 u8 codec  1 u8 kind (1 link, 2 domain)  2 u8 flags  3 u8 -  4 u16 redirect status
 *   6 u16 destination bytes  8 f64 stamp (stream sequence)  16 f64 expiresAt (NaN: none)
 *   24 u8 linkId bytes  25 u8 workspaceId bytes  26 u16 -  28 destination, linkId, workspaceId, tail
 *
 * A domain is the header (kind 2, stamp) followed by its compiled JSON.
 */
import { REDIRECT_STATUSES, type CompiledDomain, type CompiledLink } from '../../shared/index.js';
import type { RedirectStatus } from '../../shared/index.js';
import type { DomainRecord, LinkRecord } from '../link-record.js';
import { isSafeLocation, prepareRouting, type Routing } from '../routing.js';

export const CODEC_VERSION = 1;
export const HEADER_BYTES = 28;
export const KIND_LINK = 1;
export const KIND_DOMAIN = 2;
export const FLAG_DISABLED = 1;
export const FLAG_PENDING = 2;
export const FLAG_FORWARD_QUERY = 4;
export const FLAG_ROUTING = 8;

export class InvalidValueError extends Error {
  override name = 'InvalidValueError';
}

function hasRouting(link: CompiledLink): boolean {
  return (Array.isArray(link.rules) && link.rules.length > 0) || (Array.isArray(link.ab) && link.ab.length > 0);
}

/** Encodes a compiled link; `json` is the KV value it came from (kept verbatim as the tail when needed). */
export function encodeLink(link: CompiledLink, json: Uint8Array, stamp: number): Buffer {
  if (!isSafeLocation(link.destination)) throw new InvalidValueError('destination is not an absolute http(s) URL in printable ASCII');
  if (!REDIRECT_STATUSES.includes(link.redirectStatus)) throw new InvalidValueError(`redirect status ${String(link.redirectStatus)} is not one of ${REDIRECT_STATUSES.join(', ')}`);
  const linkId = String(link.linkId);
  const ws = String(link.workspaceId);
  const destLen = link.destination.length; // printable ASCII: one byte per character
  const idLen = Buffer.byteLength(linkId);
  const wsLen = Buffer.byteLength(ws);
  if (destLen > 0xffff || idLen > 0xff || wsLen > 0xff) throw new InvalidValueError('destination or ids too long');
  const routing = hasRouting(link);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + destLen + idLen + wsLen + (routing ? json.byteLength : 0));
  buf[0] = CODEC_VERSION;
  buf[1] = KIND_LINK;
  buf[2] = (link.disabled ? FLAG_DISABLED : 0) | (link.status !== 'live' ? FLAG_PENDING : 0) | (link.forwardQuery ? FLAG_FORWARD_QUERY : 0) | (routing ? FLAG_ROUTING : 0);
  buf[3] = 0;
  buf.writeUInt16LE(link.redirectStatus, 4);
  buf.writeUInt16LE(destLen, 6);
  buf.writeDoubleLE(stamp, 8);
  buf.writeDoubleLE(typeof link.expiresAt === 'number' ? link.expiresAt : NaN, 16);
  buf[24] = idLen;
  buf[25] = wsLen;
  buf.writeUInt16LE(0, 26);
  let off = HEADER_BYTES;
  off += buf.write(link.destination, off, destLen, 'latin1');
  off += buf.write(linkId, off, idLen, 'utf8');
  off += buf.write(ws, off, wsLen, 'utf8');
  if (routing) buf.set(json, off);
  return buf;
}

export function encodeDomain(domain: CompiledDomain, json: Uint8Array, stamp: number): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + json.byteLength);
  buf.writeUInt8(CODEC_VERSION, 0);
  buf.writeUInt8(KIND_DOMAIN, 1);
  buf.writeDoubleLE(stamp, 8);
  buf.set(json, HEADER_BYTES);
  return buf;
}

export function readStamp(buf: Buffer): number {
  return buf.readDoubleLE(8);
}

/**
 * A stored link → LinkRecord. `routingOf(key, buf, stamp, tailStart)` supplies the prepared rules
 * of links flagged with routing (the reader answers from its cache or decodes `buf` from `tailStart`).
 */
export type RoutingSource = (key: string, buf: Buffer, stamp: number, tailStart: number) => Routing | null;

/**
 * `ids` false: `linkId` and `workspaceId` are left '' (no strings made: the click ring copies them
 * from `value`, and a node that does not log requests never needs them as text).
 */
export function decodeLink(key: string, buf: Buffer, routingOf: RoutingSource, ids = true): LinkRecord | null {
  if (buf.length < HEADER_BYTES || buf[0] !== CODEC_VERSION || buf[1] !== KIND_LINK) return null;
  const flags = buf[2]!;
  const stamp = buf.readDoubleLE(8);
  const expires = buf.readDoubleLE(16);
  const idStart = HEADER_BYTES + buf.readUInt16LE(6);
  const wsStart = idStart + buf[24]!;
  const tailStart = wsStart + buf[25]!;
  if (tailStart > buf.length) return null;
  return {
    stamp,
    linkId: ids ? buf.toString('utf8', idStart, wsStart) : '',
    workspaceId: ids ? buf.toString('utf8', wsStart, tailStart) : '',
    redirectStatus: buf.readUInt16LE(4) as RedirectStatus,
    destination: buf.toString('latin1', HEADER_BYTES, idStart),
    forwardQuery: (flags & FLAG_FORWARD_QUERY) !== 0,
    disabled: (flags & FLAG_DISABLED) !== 0,
    pending: (flags & FLAG_PENDING) !== 0,
    expiresAt: Number.isNaN(expires) ? null : expires,
    routing: (flags & FLAG_ROUTING) !== 0 ? routingOf(key, buf, stamp, tailStart) : null,
    value: buf,
    idAt: idStart,
    wsAt: wsStart,
    wsEnd: tailStart,
  };
}

/** Decodes and prepares the rules stored after the header (once per version: callers cache). */
export function decodeRouting(buf: Buffer, tailStart: number): Routing | null {
  return prepareRouting(JSON.parse(buf.toString('utf8', tailStart, buf.length)) as CompiledLink);
}

export function decodeDomain(buf: Buffer): DomainRecord | null {
  if (buf.length < HEADER_BYTES || buf[0] !== CODEC_VERSION || buf[1] !== KIND_DOMAIN) return null;
  try {
    const d = JSON.parse(buf.toString('utf8', HEADER_BYTES, buf.length)) as Partial<CompiledDomain>;
    return {
      hostname: String(d.hostname ?? ''),
      notFoundUrl: isSafeLocation(d.notFoundUrl) ? d.notFoundUrl : null,
      expiredUrl: isSafeLocation(d.expiredUrl) ? d.expiredUrl : null,
    };
  } catch {
    return null;
  }
}
