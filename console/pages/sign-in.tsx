import { useState } from 'preact/hooks';
import { ApiError, createApi } from '../api.js';
import { requestToken, session } from '../session.js';
import type { Key } from '../types.js';
import { ErrorBanner, Field } from '../ui.js';

type Method = 'key' | 'oauth';

/**
 * Sign in with an API key, or with an OAuth client's id and secret (exchanged at POST /oauth/token
 * for a short-lived token: see session.ts for what is kept where). Either is checked with
 * GET /v1/keys/me before the console opens.
 */
export function SignIn(props: { error: string | null; clientId: string | null; onSignedIn(me: Key): void }) {
  const [method, setMethod] = useState<Method>(props.clientId ? 'oauth' : 'key');
  const [key, setKey] = useState('');
  const [clientId, setClientId] = useState(props.clientId ?? '');
  const [clientSecret, setClientSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(props.error ? new Error(props.error) : null);
  const ready = method === 'key' ? Boolean(key.trim()) : Boolean(clientId.trim() && clientSecret);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (method === 'key') {
        const k = key.trim();
        const me = await createApi(async () => k, () => undefined).get<Key>('/v1/keys/me');
        session.signInWithKey(k);
        props.onSignedIn(me);
      } else {
        const id = clientId.trim();
        const t = await requestToken(id, clientSecret);
        const me = await createApi(async () => t.token, () => undefined).get<Key>('/v1/keys/me');
        session.signInWithClient(id, clientSecret, t);
        props.onSignedIn(me);
      }
    } catch (err) {
      const refused = err instanceof ApiError && (err.status === 401 || err.code === 'invalid_client');
      setError(refused ? new Error(method === 'key' ? 'That key is not valid (or was revoked).' : 'That client id and secret are not valid (or the client was revoked).') : err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>linkplane console</h1>
      <form onSubmit={submit}>
        <fieldset class="choice">
          <legend>Sign in with</legend>
          <label>
            <input type="radio" name="method" value="key" checked={method === 'key'} onChange={() => setMethod('key')} /> An API key
          </label>
          <label>
            <input type="radio" name="method" value="oauth" checked={method === 'oauth'} onChange={() => setMethod('oauth')} /> An OAuth client (id + secret)
          </label>
        </fieldset>
        {method === 'key' ? (
          <Field label="API key" id="api-key" hint="Kept in this browser tab only; signing out forgets it.">
            <input
              id="api-key"
              name="api-key"
              type="password"
              autocomplete="off"
              required
              value={key}
              aria-describedby="api-key-hint"
              onInput={(e) => setKey(e.currentTarget.value)}
            />
          </Field>
        ) : (
          <>
            <Field label="Client ID" id="client-id">
              <input id="client-id" name="client-id" autocomplete="off" required spellcheck={false} value={clientId} onInput={(e) => setClientId(e.currentTarget.value)} />
            </Field>
            <Field label="Client secret" id="client-secret" hint="Exchanged for a short-lived token; the secret is never stored, only kept in memory to renew the token.">
              <input
                id="client-secret"
                name="client-secret"
                type="password"
                autocomplete="off"
                required
                value={clientSecret}
                aria-describedby="client-secret-hint"
                onInput={(e) => setClientSecret(e.currentTarget.value)}
              />
            </Field>
          </>
        )}
        <ErrorBanner error={error} />
        <button type="submit" disabled={busy || !ready}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
