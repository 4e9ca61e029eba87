/**
 * What the console signs in with, and where it keeps it.
 *
 * - An API key: in this tab's sessionStorage (`linkplane.key`); closing the tab or signing out forgets it.
 * - An OAuth client (client credentials): the id and secret are exchanged at `POST /oauth/token` for a
 *   short-lived JWT. Only the token, its expiry and the (non-secret) client id go to sessionStorage
 *   (`linkplane.token`). The client secret is never stored: it stays in this module's memory while the
 *   page lives, to renew the token a minute before it expires. After a reload the stored token is used
 *   until it expires; then the console asks for the secret again (client id filled in). So a secret
 *   that outlives the page exists nowhere, and what sessionStorage holds is worth minutes.
 * Nothing goes to localStorage or a cookie. Sign-out clears both slots and the memory.
 */
import { ApiError } from './api.js';

const KEY_SLOT = 'linkplane.key';
const TOKEN_SLOT = 'linkplane.token';
/** Renew this long before the token's expiry (clock skew, requests in flight). */
const RENEW_BEFORE_MS = 60_000;

export type Stored = { kind: 'key'; key: string } | { kind: 'oauth'; token: string; expiresAt: number; clientId: string };

/** The OAuth token has expired and there is no secret in memory to renew it: sign in again. */
export class SessionExpired extends ApiError {
  constructor(readonly clientId: string) {
    super(401, 'token_expired', 'The OAuth session expired: enter the client secret again.', null);
  }
}

let secret: { clientId: string; clientSecret: string } | null = null;
let renewing: Promise<string> | null = null;

function load(): Stored | null {
  const key = sessionStorage.getItem(KEY_SLOT);
  if (key) return { kind: 'key', key };
  const raw = sessionStorage.getItem(TOKEN_SLOT);
  if (!raw) return null;
  try {
    const t = JSON.parse(raw) as { token?: unknown; expires_at?: unknown; client_id?: unknown };
    if (typeof t.token === 'string' && typeof t.expires_at === 'number' && typeof t.client_id === 'string') {
      return { kind: 'oauth', token: t.token, expiresAt: t.expires_at, clientId: t.client_id };
    }
  } catch {
    // not ours: ignore it
  }
  return null;
}

/** RFC 6749 §4.4: client credentials in the form body; errors in the §5.2 shape become ApiErrors. */
export async function requestToken(clientId: string, clientSecret: string): Promise<{ token: string; expiresAt: number }> {
  const res = await fetch('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) {
    throw new ApiError(res.status, body.error ?? `http_${res.status}`, body.error_description ?? body.error ?? res.statusText, null);
  }
  return { token: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 0) * 1000 };
}

export const session = {
  load,
  signInWithKey(key: string) {
    session.signOut();
    sessionStorage.setItem(KEY_SLOT, key);
  },
  signInWithClient(clientId: string, clientSecret: string, t: { token: string; expiresAt: number }) {
    session.signOut();
    secret = { clientId, clientSecret };
    sessionStorage.setItem(TOKEN_SLOT, JSON.stringify({ token: t.token, expires_at: t.expiresAt, client_id: clientId }));
  },
  signOut() {
    secret = null;
    renewing = null;
    sessionStorage.removeItem(KEY_SLOT);
    sessionStorage.removeItem(TOKEN_SLOT);
  },
  /** The bearer for the next call: the key, or a token renewed when it is about to expire. */
  async bearer(): Promise<string> {
    const s = load();
    if (!s) throw new ApiError(401, 'unauthorized', 'Signed out.', null);
    if (s.kind === 'key') return s.key;
    if (s.expiresAt - Date.now() > RENEW_BEFORE_MS) return s.token;
    if (secret && secret.clientId === s.clientId) {
      const { clientId, clientSecret } = secret;
      // one renewal for every call that needs it at once
      renewing ??= requestToken(clientId, clientSecret)
        .then((t) => {
          sessionStorage.setItem(TOKEN_SLOT, JSON.stringify({ token: t.token, expires_at: t.expiresAt, client_id: clientId }));
          return t.token;
        })
        .finally(() => {
          renewing = null;
        });
      return renewing;
    }
    if (s.expiresAt > Date.now()) return s.token;
    throw new SessionExpired(s.clientId);
  },
};
