/**
 * Every id a client sees is `<prefix>_<26 Crockford base32 characters>`: 128 bits, the first 48 the
 * creation time in epoch ms, so ids sort by creation (and double as pagination keys). Most are
 * ULIDs made here (80 random bits, monotonic within a millisecond). Events and clicks are stored as
 * UUIDv7 (Postgres `uuid`; a click's id is made on the node and is its exactly-once key) and shown
 * as the same 16 bytes in this form (`evt_…`, `clk_…`), which parse back to the stored UUID.
 * docs/ids.md is the client-facing description.
 */
import { randomBytes } from 'node:crypto';

const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let lastTime = -1;
const lastRandom = new Uint8Array(10);

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 9; i >= 0; i--) {
    const mod = ms % 32;
    out = B32[mod] + out;
    ms = (ms - mod) / 32;
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  // 80 bits → 16 base32 chars
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

export function ulid(now = Date.now()): string {
  if (now <= lastTime) {
    // same (or earlier) millisecond: increment the random part to stay monotonic
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      if (lastRandom[i] === 255) {
        lastRandom[i] = 0;
      } else {
        lastRandom[i]!++;
        break;
      }
    }
    return encodeTime(lastTime) + encodeRandom(lastRandom);
  }
  lastTime = now;
  lastRandom.set(randomBytes(10));
  return encodeTime(now) + encodeRandom(lastRandom);
}

/** Every prefix, and what it names. */
export const ID_PREFIXES = {
  ln: 'link', dom: 'domain', key: 'API key', ws: 'workspace', job: 'bulk job', whe: 'webhook endpoint',
  whk: 'webhook signing secret', whd: 'webhook delivery', evt: 'event (webhook payload)', clk: 'click', aud: 'audit entry',
  oac: 'OAuth client', jwk: 'signing key (JWK)',
} as const;
export type IdPrefix = keyof typeof ID_PREFIXES;

/** The 26 characters after the prefix: 128 bits, so the first character is 0–7. */
export const ID_BODY = '[0-7][0-9A-HJKMNP-TV-Z]{25}';
/** The one id outside the form: the workspace made at first start (docs/ids.md). */
export const BOOTSTRAP_WORKSPACE_ID = 'ws_default';
/** The regular expression (as source) an id with `prefix` matches, anchored. */
export const idPattern = (prefix: IdPrefix): string => `^${prefix}_${ID_BODY}$`;
/** A workspace id (anchored source): `ws_` + the id body, or the bootstrap workspace's. */
export const WORKSPACE_ID_PATTERN = `^(${BOOTSTRAP_WORKSPACE_ID}|ws_${ID_BODY})$`;
const ANY_ID = new RegExp(`^(${Object.keys(ID_PREFIXES).join('|')})_${ID_BODY}$`);
/** True when `s` is an id of some prefix in the documented form. */
export const isId = (s: string): boolean => ANY_ID.test(s);

const B32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B32.length; i++) B32_VALUE[B32.charCodeAt(i)] = i;

/** `<prefix>_` + the 16 bytes at `offset` in Crockford base32 (two zero bits in front: 130 = 26 × 5). */
export function bytesToId(prefix: IdPrefix, bytes: Uint8Array, offset = 0): string {
  let out = `${prefix}_`;
  let acc = 0;
  let bits = 2;
  for (let i = offset; i < offset + 16; i++) {
    acc = (acc << 8) | bytes[i]!;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** The 16 bytes of an id with `prefix`; null when `id` is not exactly in the documented form. */
export function idToBytes(prefix: IdPrefix, id: string): Buffer | null {
  if (id.length !== prefix.length + 27 || !id.startsWith(`${prefix}_`)) return null;
  const out = Buffer.allocUnsafe(16);
  let acc = 0;
  let bits = -2; // the two leading zero bits are dropped
  let k = 0;
  for (let i = prefix.length + 1; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const v = c < 128 ? B32_VALUE[c]! : -1;
    if (v < 0 || (i === prefix.length + 1 && v > 7)) return null;
    acc = ((acc << 5) | v) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      out[k++] = (acc >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

/** A stored UUID (events, clicks) as the id clients see. */
export function uuidToId(prefix: 'evt' | 'clk', uuid: string): string {
  return bytesToId(prefix, Buffer.from(uuid.replace(/-/g, ''), 'hex'));
}

/** An `evt_…` / `clk_…` id back to the stored UUID text; null when it is not one. */
export function idToUuid(prefix: 'evt' | 'clk', id: string): string | null {
  const b = idToBytes(prefix, id);
  if (!b) return null;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}
