/**
 * Resource ids: `<prefix>_<ULID>` (Crockford base32, 48-bit ms time + 80 random bits,
 * monotonic within a millisecond) — sortable by creation, so they double as pagination keys.
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

export type IdPrefix = 'ln' | 'dom' | 'key' | 'ws' | 'job' | 'whe' | 'whd' | 'evt' | 'whk' | 'aud' | 'oac' | 'jwk';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}
