/**
 * Secrets at rest (issue 12): webhook signing secrets and job callback secrets are stored sealed,
 * so a database dump alone cannot forge a webhook. Envelope encryption with AES-256-GCM:
 *
 *   lpsec1.<kid>.<wrapped DEK>.<ciphertext>          (each part base64url)
 *
 * A fresh 256-bit data key (DEK) seals each value; the DEK is wrapped by the key-encryption key
 * SECRETS_KEY, named by its key id (kid: derived from the key, so nothing else to configure).
 * Both layers are GCM: 12-byte IV ‖ ciphertext ‖ 16-byte tag. The wrap authenticates
 * `lpsec1.<kid>`; the value authenticates the wrap and a context (which row it belongs to, e.g.
 * `webhook_secrets:whk_…`), so a sealed value copied onto another row does not open.
 *
 * Rotation: the current key seals; the keys of SECRETS_KEYS_OLD still open, and re-seal.ts moves
 * every row to the current key at start (and in maintenance).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ConfigError } from '../../shared/index.js';

const VERSION = 'lpsec1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export interface SecretsKey {
  kid: string;
  key: Buffer;
}

/** A value could not be opened: sealed under a key we don't hold, damaged, or not sealed at all. */
export class SecretBoxError extends Error {
  constructor(message: string, readonly kid: string | null = null) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/** The key id of a key: 8 base64url characters of its SHA-256 (names the key, reveals nothing). */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('linkplane secrets key id\0').update(key).digest('base64url').slice(0, 8);
}

/** A new SECRETS_KEY value: 32 random bytes, base64. */
export function generateSecretsKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

function gcmSeal(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64url');
}

function gcmOpen(key: Buffer, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretBoxError('sealed value too short');
  const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), d.final()]);
  } catch {
    throw new SecretBoxError('sealed value does not authenticate (wrong key, wrong row, or damaged)');
  }
}

/** Opened values kept by the dispatcher's claims (a sealed value never changes; ~50 µs to open). */
const OPENED_CACHE_MAX = 10_000;

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly opened = new Map<string, string>();

  constructor(readonly current: SecretsKey, old: readonly SecretsKey[] = []) {
    for (const k of [current, ...old]) {
      if (k.key.length !== KEY_BYTES) throw new Error(`secrets key ${k.kid} must be ${KEY_BYTES} bytes`);
      if (!this.keys.has(k.kid)) this.keys.set(k.kid, k.key);
    }
  }

  /** `lpsec1.<kid>.` — what every value sealed under the current key starts with. */
  get currentPrefix(): string {
    return `${VERSION}.${this.current.kid}.`;
  }

  /** Seals `plaintext` for the row named by `context` under the current key. */
  seal(plaintext: string, context: string): string {
    const dek = randomBytes(KEY_BYTES);
    const head = `${VERSION}.${this.current.kid}`;
    const wrapped = gcmSeal(this.current.key, dek, head);
    const ct = gcmSeal(dek, Buffer.from(plaintext, 'utf8'), `${head}.${wrapped}\0${context}`);
    dek.fill(0);
    return `${head}.${wrapped}.${ct}`;
  }

  /** As `open`, remembering the result: for the hot path (every webhook claim opens its endpoints' secrets). */
  openCached(sealed: string, context: string): string {
    const k = `${context}\0${sealed}`;
    let v = this.opened.get(k);
    if (v === undefined) {
      v = this.open(sealed, context);
      if (this.opened.size >= OPENED_CACHE_MAX) this.opened.clear();
      this.opened.set(k, v);
    }
    return v;
  }

  /** Opens a value sealed for `context` under the current key or an old one. */
  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) throw new SecretBoxError('not a sealed value');
    const [, kid, wrapped, ct] = parts as [string, string, string, string];
    const kek = this.keys.get(kid);
    if (!kek) throw new SecretBoxError(`sealed under key id ${kid}, which neither SECRETS_KEY nor SECRETS_KEYS_OLD holds`, kid);
    const head = `${VERSION}.${kid}`;
    const dek = gcmOpen(kek, wrapped, head);
    try {
      return gcmOpen(dek, ct, `${head}.${wrapped}\0${context}`).toString('utf8');
    } finally {
      dek.fill(0);
    }
  }
}

/** Whether a stored value is sealed (else it is a plaintext secret from before sealing). */
export function isSealed(value: string): boolean {
  return value.startsWith(`${VERSION}.`);
}

function decodeKey(name: string, raw: string): SecretsKey {
  const b = /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
  if (b.length !== KEY_BYTES) {
    throw new ConfigError([`${name} must be ${KEY_BYTES} random bytes, base64-encoded (generate one with: openssl rand -base64 32)`]);
  }
  return { kid: keyIdOf(b), key: b };
}

/**
 * The box of SECRETS_KEY (required) and SECRETS_KEYS_OLD (comma-separated, optional). Throws a
 * ConfigError naming the variable when a key is missing or not 32 bytes of base64.
 */
export function secretBoxFrom(config: { SECRETS_KEY?: string | undefined; SECRETS_KEYS_OLD?: string | undefined }): SecretBox {
  if (!config.SECRETS_KEY) {
    throw new ConfigError([
      'SECRETS_KEY is required: 32 random bytes, base64-encoded, that seal webhook and callback secrets at rest (generate one with: openssl rand -base64 32)',
    ]);
  }
  const current = decodeKey('SECRETS_KEY', config.SECRETS_KEY.trim());
  const old = (config.SECRETS_KEYS_OLD ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => decodeKey(`SECRETS_KEYS_OLD[${i}]`, s));
  return new SecretBox(current, old);
}

/**
 * A stored secret in clear: opened if sealed; a plaintext value from before sealing (written by an
 * older control plane during an upgrade) is taken as is until re-seal.ts seals it.
 */
export function openStored(box: SecretBox, stored: string, context: string, cached = false): string {
  if (!isSealed(stored)) return stored;
  return cached ? box.openCached(stored, context) : box.open(stored, context);
}
