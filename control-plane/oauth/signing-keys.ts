/**
 * The keys that sign JWT access tokens (ES256), in Postgres with the private half sealed by the
 * secret box (and moved to a new SECRETS_KEY by secrets/reseal.ts, like every sealed secret). The newest unretired key signs; it is replaced once it is older than the rotation
 * period (by whichever control plane notices first, under an advisory lock). A retired key keeps
 * verifying, and stays in the JWKS, until every token it signed has expired (retired_at + TTL).
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Pool } from '../db/pool.js';
import { withTx } from '../db/tx.js';
import { newId } from '../ids.js';
import { sealContext, type SecretBox } from '../secrets/index.js';

export const JWT_ALG = 'ES256';
const ROTATION_LOCK = 0x6c706a77; // "lpjw"
const RELOAD_MIN_MS = 1000; // an unknown kid reloads the key set at most this often

const context = (id: string) => sealContext('jwt_signing_keys', id);

interface KeyRow {
  id: string;
  public_jwk: JWK;
  private_jwk: string;
  created_at: Date;
  retired_at: Date | null;
}

export interface SigningKeysOptions {
  /** A key signs for this long, then a new one takes over. */
  rotationMs: number;
  /** Access token lifetime: how long a retired key must keep verifying. */
  tokenTtlMs: number;
  now?: () => number;
}

export class SigningKeys {
  private signing: { kid: string; key: CryptoKey; createdAt: number } | null = null;
  private verifying = new Map<string, { key: CryptoKey; jwk: JWK }>();
  private loadedAt = 0;

  constructor(
    private readonly pool: Pool,
    private readonly box: SecretBox,
    private readonly opts: SigningKeysOptions,
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** The key that signs now; creates the first one, or the next when the current one is due. */
  async signer(): Promise<{ kid: string; key: CryptoKey }> {
    if (!this.signing || this.now() - this.signing.createdAt >= this.opts.rotationMs) {
      await this.load();
      if (!this.signing || this.now() - this.signing.createdAt >= this.opts.rotationMs) {
        await this.rotate(false);
      }
    }
    return this.signing!;
  }

  /**
   * Starts signing with a new key; the current one retires (still verifying until its tokens expire).
   * `force: false` rotates only when the newest key is still due (another control plane may just have).
   */
  async rotate(force = true): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(JWT_ALG, { extractable: true });
    const id = newId('jwk');
    const publicJwk = { ...(await exportJWK(publicKey)), kid: id, alg: JWT_ALG, use: 'sig' };
    const sealed = this.box.seal(JSON.stringify(await exportJWK(privateKey)), context(id));
    await withTx(this.pool, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ROTATION_LOCK]);
      if (!force) {
        const { rows } = await tx.query<{ created_at: Date }>('SELECT created_at FROM jwt_signing_keys WHERE retired_at IS NULL ORDER BY id DESC LIMIT 1');
        if (rows[0] && this.now() - rows[0].created_at.getTime() < this.opts.rotationMs) return; // someone else rotated
      }
      await tx.query('UPDATE jwt_signing_keys SET retired_at = $1 WHERE retired_at IS NULL', [new Date(this.now())]);
      await tx.query('INSERT INTO jwt_signing_keys (id, alg, public_jwk, private_jwk, created_at) VALUES ($1, $2, $3, $4, $5)',
        [id, JWT_ALG, JSON.stringify(publicJwk), sealed, new Date(this.now())]);
    });
    await this.load();
    return this.signing!.kid;
  }

  /** Reads the signing key and every key that still verifies. */
  async load(): Promise<void> {
    const { rows } = await this.pool.query<KeyRow>(
      `SELECT id, public_jwk, private_jwk, created_at, retired_at FROM jwt_signing_keys
        WHERE retired_at IS NULL OR retired_at > $1 ORDER BY id DESC`,
      [new Date(this.now() - this.opts.tokenTtlMs)],
    );
    const verifying = new Map<string, { key: CryptoKey; jwk: JWK }>();
    for (const r of rows) {
      const known = this.verifying.get(r.id);
      verifying.set(r.id, known ?? { key: (await importJWK(r.public_jwk, JWT_ALG)) as CryptoKey, jwk: r.public_jwk });
    }
    const current = rows.find((r) => r.retired_at === null);
    if (current && this.signing?.kid !== current.id) {
      const jwk = JSON.parse(this.box.open(current.private_jwk, context(current.id))) as JWK;
      this.signing = { kid: current.id, key: (await importJWK(jwk, JWT_ALG)) as CryptoKey, createdAt: current.created_at.getTime() };
    } else if (!current) {
      this.signing = null;
    }
    this.verifying = verifying;
    this.loadedAt = this.now();
  }

  /** The public key for a token's kid; null when no key with that kid still verifies. */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | null> {
    if (!kid) return null;
    let k = this.verifying.get(kid);
    if (!k && this.now() - this.loadedAt >= RELOAD_MIN_MS) {
      await this.load(); // another control plane rotated
      k = this.verifying.get(kid);
    }
    return k?.key ?? null;
  }

  /** The JWKS document (RFC 7517): the current key and the previous ones whose tokens may still be live. */
  async jwks(): Promise<{ keys: JWK[] }> {
    if (this.verifying.size === 0 || this.now() - this.loadedAt >= RELOAD_MIN_MS) await this.load();
    if (this.verifying.size === 0) await this.signer();
    return { keys: [...this.verifying.values()].map((v) => v.jwk) };
  }
}
