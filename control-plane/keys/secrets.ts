import { createHash, randomBytes } from 'node:crypto';
import { randomBase62 } from '../../shared/index.js';

export const SECRET_PREFIX = 'lp_';

/** A new credential secret: `lp_` (API keys; OAuth clients `lpc_`) + 40 base62 characters (~238 bits). Shown once, stored hashed. */
export function generateSecret(prefix = SECRET_PREFIX): string {
  return prefix + randomBase62(40, (n) => randomBytes(n));
}

/** Keys are high-entropy random strings, so a fast hash is the right tool (no password KDF needed). */
export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** What the API shows of a secret after creation: its prefix and 6 more characters. */
export function secretPrefix(secret: string, prefix = SECRET_PREFIX): string {
  return secret.slice(0, prefix.length + 6);
}
