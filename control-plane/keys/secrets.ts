import { createHash, randomBytes } from 'node:crypto';
import { randomBase62 } from '../../shared/index.js';

export const SECRET_PREFIX = 'lp_';

/** A new API key secret: `lp_` + 40 base62 characters (~238 bits). Shown once, stored hashed. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBase62(40, (n) => randomBytes(n));
}

/** Keys are high-entropy random strings, so a fast hash is the right tool (no password KDF needed). */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** What the API shows of a secret after creation. */
export function secretPrefix(secret: string): string {
  return secret.slice(0, SECRET_PREFIX.length + 6);
}
