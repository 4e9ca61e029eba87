/** API keys the signed-in key may manage: list, create (the secret is shown once), revoke. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Key, Page } from '../types.js';
import { ListTable } from '../list-table.js';
import { Field } from '../ui.js';

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

  const [cursor, setCursor] = useState<string | null>(null);
  const load = (after: string | null = null) =>
    api.get<Page<Key>>('/v1/keys', { limit: 100, cursor: after }).then((p) => {
      setKeys((k) => (after ? [...k, ...p.data] : p.data));
      setCursor(p.next_cursor);
    }, setError);
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
      <ListTable<Key>
        caption="API keys"
        class="keys"
        rows={keys}
        rowKey={(k) => k.id}
        error={error}
        notice={notice}
        onMore={cursor ? () => void load(cursor) : null}
        columns={[
          { header: 'Name', cell: (k) => k.name },
          { header: 'Prefix', cell: (k) => <code>{k.prefix}…</code> },
          { header: 'Role', cell: (k) => k.role },
          { header: 'Domains', cell: (k) => k.domains?.join(', ') ?? 'all' },
          { header: 'Last used', cell: (k) => when(k.last_used_at) },
          {
            header: 'Actions',
            class: 'actions',
            cell: (k) =>
              k.id !== me.id && (
                <button type="button" class="link danger" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                  Revoke
                </button>
              ),
          },
        ]}
      >
        {secret && (
          <div class="banner notice" role="region" aria-label="New key secret">
            <p>The new key — shown once, store it now:</p>
            <p class="secret">{secret}</p>
            <button type="button" class="secondary" onClick={() => setSecret(null)}>
              I stored it
            </button>
          </div>
        )}
      </ListTable>
    </section>
  );
}
