/**
 * Click ids: UUIDv7 (RFC 9562) whose 48-bit timestamp IS the click's occurred_at. Ingest takes
 * occurred_at from the id, so one id always lands in one day partition and the primary key
 * (id, occurred_at) is exactly as unique as the id (see control-plane/db/migrations/100_clicks.sql).
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 16 * 1024;
const pool = Buffer.alloc(POOL_SIZE);
let poolPos = POOL_SIZE;

/** Writes a UUIDv7 for `ms` into `out[offset..offset+16)`: 48-bit time, version 7, 74 random bits. */
export function writeClickId(ms: number, out: Uint8Array, offset = 0): void {
  if (poolPos + 10 > POOL_SIZE) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const hi = Math.floor(ms / 0x1_0000_0000);
  const lo = ms >>> 0;
  out[offset] = (hi >>> 8) & 0xff;
  out[offset + 1] = hi & 0xff;
  out[offset + 2] = lo >>> 24;
  out[offset + 3] = (lo >>> 16) & 0xff;
  out[offset + 4] = (lo >>> 8) & 0xff;
  out[offset + 5] = lo & 0xff;
  out[offset + 6] = 0x70 | (pool[poolPos]! & 0x0f);
  out[offset + 7] = pool[poolPos + 1]!;
  out[offset + 8] = 0x80 | (pool[poolPos + 2]! & 0x3f);
  for (let i = 9; i < 16; i++) out[offset + i] = pool[poolPos + i - 6]!;
  poolPos += 10;
}

/** Canonical text form (8-4-4-4-12, lower case) of the 16 bytes at `offset`. */
export function uuidText(bytes: Uint8Array, offset = 0): string {
  const h = Buffer.from(bytes.buffer, bytes.byteOffset + offset, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A new click id for a click at `ms` (epoch milliseconds), as text. */
export function newClickId(ms: number): string {
  const b = Buffer.allocUnsafe(16);
  writeClickId(ms, b);
  return uuidText(b);
}

/** A UUIDv7 for now (events use the same time-first form as clicks), as text. */
export function newUuidV7(): string {
  return newClickId(Date.now());
}

const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Parses a UUIDv7 text into 16 bytes; null if it is not one. */
export function clickIdBytes(id: string): Buffer | null {
  const s = id.toLowerCase();
  if (!UUID_TEXT.test(s)) return null;
  return Buffer.from(s.replace(/-/g, ''), 'hex');
}

/** True when the 16 bytes at `offset` are a UUIDv7 (version 7, RFC variant). */
export function isClickIdBytes(bytes: Uint8Array, offset = 0): boolean {
  return (bytes[offset + 6]! & 0xf0) === 0x70 && (bytes[offset + 8]! & 0xc0) === 0x80;
}

/** The epoch-ms timestamp of the UUIDv7 at `offset`. */
export function clickIdTime(bytes: Uint8Array, offset = 0): number {
  return (
    (bytes[offset]! * 0x100 + bytes[offset + 1]!) * 0x1_0000_0000 +
    ((bytes[offset + 2]! << 24) >>> 0) +
    (bytes[offset + 3]! << 16) +
    (bytes[offset + 4]! << 8) +
    bytes[offset + 5]!
  );
}

/** The epoch-ms timestamp of a UUIDv7 given as text; null if it is not one. */
export function clickIdTimeOf(id: string): number | null {
  const b = clickIdBytes(id);
  return b ? clickIdTime(b) : null;
}
