/** The audit log (GET /v1/audit): who changed what, newest first, filtered by action, resource and time. */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Page } from '../types.js';
import { ErrorBanner, Field } from '../ui.js';

interface Entry {
  id: string;
  at: string;
  action: string;
  resource: { type: string; id: string };
  actor: { type: string; id: string; name: string | null };
  request: { id: string | null; client_address: string | null };
  changes: Record<string, unknown> | null;
}

export function AuditPage() {
  const { api } = useSession();
  const [action, setAction] = useState('');
  const [resource, setResource] = useState('');
  const [from, setFrom] = useState('');
  const [rows, setRows] = useState<Entry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  const load = async (after: string | null) => {
    setError(null);
    try {
      const p = await api.get<Page<Entry>>('/v1/audit', { action: action.trim(), resource_id: resource.trim(), from, limit: 50, cursor: after });
      setRows((r) => (after ? [...r, ...p.data] : p.data));
      setCursor(p.next_cursor);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load(null);
  }, []);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          void load(null);
        }}
      >
        <Field label="Action" id="au-action" hint="e.g. link.update">
          <input id="au-action" value={action} onInput={(e) => setAction(e.currentTarget.value)} />
        </Field>
        <Field label="Resource id" id="au-resource">
          <input id="au-resource" value={resource} onInput={(e) => setResource(e.currentTarget.value)} />
        </Field>
        <Field label="Since (date)" id="au-from">
          <input id="au-from" type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </Field>
        <div class="filter-actions">
          <button type="submit">Search</button>
        </div>
      </form>
      <ErrorBanner error={error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Resource</th>
              <th scope="col">Actor</th>
              <th scope="col">Changes</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr>
                <td>{when(e.at)}</td>
                <td>{e.action}</td>
                <td>
                  {e.resource.type} {e.resource.id}
                </td>
                <td>{e.actor.name ?? e.actor.id}</td>
                <td class="dest" title={e.changes ? JSON.stringify(e.changes) : ''}>
                  {e.changes ? JSON.stringify(e.changes) : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor && (
        <button type="button" class="secondary more" onClick={() => load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
