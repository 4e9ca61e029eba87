/**
 * JWT access tokens (RFC 9068 profile) for OAuth clients: `iss`, `aud`, `sub` and `client_id`
 * (the client), `scope`, `iat`, `exp`, `jti`, signed ES256 with the `kid` of the signing key.
 * Verifying checks signature, issuer, audience, type and expiry, then the client: a revoked client's
 * tokens stop at once, and the caller gets the client's current role, domains and rate limit.
 */
import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Queryable } from '../db/pool.js';
import type { AuthContext } from '../keys/key-store.js';
import { activeClient, clientAuth, type ClientRow } from './client-store.js';
import { JWT_ALG, type SigningKeys } from './signing-keys.js';

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

const CLOCK_TOLERANCE_S = 5;
/** What a JWT looks like (three base64url parts, a JSON header); API keys never do. */
const JWT_SHAPE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
export const looksLikeJwt = (token: string): boolean => JWT_SHAPE.test(token);

export async function issueToken(keys: SigningKeys, s: TokenSettings, client: ClientRow, scopes: readonly string[], now = Date.now()): Promise<string> {
  const { kid, key } = await keys.signer();
  const iat = Math.floor(now / 1000);
  return new SignJWT({ scope: scopes.join(' '), client_id: client.id })
    .setProtectedHeader({ alg: JWT_ALG, kid, typ: 'at+jwt' })
    .setIssuer(s.issuer)
    .setAudience(s.audience)
    .setSubject(client.id)
    .setIssuedAt(iat)
    .setExpirationTime(iat + s.ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
}

export type TokenCheck = AuthContext | { refused: 'expired' | 'invalid' | 'revoked'; why: string };

export async function verifyToken(db: Queryable, keys: SigningKeys, s: TokenSettings, token: string): Promise<TokenCheck> {
  let payload: { sub?: string; scope?: unknown };
  try {
    const r = await jwtVerify(token, async (header) => {
      const k = await keys.verificationKey(header.kid);
      if (!k) throw new joseErrors.JWKSNoMatchingKey('no signing key with this kid');
      return k;
    }, { issuer: s.issuer, audience: s.audience, algorithms: [JWT_ALG], typ: 'at+jwt', clockTolerance: CLOCK_TOLERANCE_S, requiredClaims: ['exp', 'sub'] });
    payload = r.payload;
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { refused: 'expired', why: 'the access token expired' };
    if (err instanceof joseErrors.JWTClaimValidationFailed) return { refused: 'invalid', why: `the access token's ${err.claim} claim is not accepted` };
    if (err instanceof joseErrors.JOSEError) return { refused: 'invalid', why: 'the access token does not verify' };
    throw err;
  }
  const client = await activeClient(db, payload.sub!);
  if (!client) return { refused: 'revoked', why: 'the OAuth client is unknown or revoked' };
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  return clientAuth(client, scopes);
}
