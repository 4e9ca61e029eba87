/** API keys the signed-in key may manage: list, create (the secret is shown once), revoke. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Key, Page } from '../types.js';
import { ErrorBanner, Field, Notice } from '../ui.js';

const ROLES = ['admin', 'publisher', 'analyst', 'read-only'];

export function KeysPage() {
  const { api, me } = useSession();
  const [keys, setKeys] = useState<Key[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState('analyst');
  const [domains, setDomains] = useState('');
  const [secret, setSecret] = useState<string | null>(null);

  const load = () => api.get<Page<Key>>('/v1/keys', { limit: 200 }).then((p) => setKeys(p.data), setError);
  useEffect(() => {
    void load();
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const list = domains.split(',').map((d) => d.trim()).filter(Boolean);
      const k = await api.send<Key & { secret: string }>('POST', '/v1/keys', { name: name.trim(), role, ...(list.length ? { domains: list } : {}) });
      setSecret(k.secret);
      setName('');
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (k: Key) => {
    if (!confirm(`Revoke ${k.name}? Calls with it fail at once.`)) return;
    try {
      await api.send('DELETE', `/v1/keys/${k.id}`);
      setNotice(`Revoked ${k.name}`);
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const fieldError = (f: string) => (error instanceof ApiError && error.field === f ? error.message : null);
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <form class="filters" onSubmit={create} aria-label="New key">
        <Field label="Name" id="key-name" error={fieldError('name')}>
          <input id="key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Role" id="key-role" error={fieldError('role')}>
          <select id="key-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            {ROLES.map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </Field>
        <Field label="Domains (empty: all)" id="key-domains" error={fieldError('domains')}>
          <input id="key-domains" value={domains} onInput={(e) => setDomains(e.currentTarget.value)} />
        </Field>
        <div class="filter-actions">
          <button type="submit">Create key</button>
        </div>
      </form>
      <ErrorBanner error={error} />
      <Notice text={notice} />
      {secret && (
        <div class="banner notice" role="region" aria-label="New key secret">
          <p>The new key — shown once, store it now:</p>
          <p class="secret">{secret}</p>
          <button type="button" class="secondary" onClick={() => setSecret(null)}>
            I stored it
          </button>
        </div>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Role</th>
              <th scope="col">Domains</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.role}</td>
                <td>{k.domains?.join(', ') ?? 'all'}</td>
                <td>{when(k.last_used_at)}</td>
                <td>
                  {k.id !== me.id && (
                    <button type="button" class="link danger" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
