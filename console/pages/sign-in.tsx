import { useState } from 'preact/hooks';
import { ApiError, createApi } from '../api.js';
import type { Key } from '../types.js';
import { ErrorBanner, Field } from '../ui.js';

/** Sign in with an API key: the key is checked with GET /v1/keys/me, then kept for this tab only. */
export function SignIn(props: { error: string | null; onSignedIn(key: string, me: Key): void }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(props.error ? new Error(props.error) : null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await createApi(key.trim(), () => undefined).get<Key>('/v1/keys/me');
      props.onSignedIn(key.trim(), me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? new Error('That key is not valid (or was revoked).') : err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>linkplane console</h1>
      <form onSubmit={submit}>
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
        <ErrorBanner error={error} />
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
