/** The audit log (GET /v1/audit): who changed what, newest first, filtered by action, resource and time. */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { AuditEntry as Entry, Page } from '../types.js';
import { ListTable } from '../list-table.js';
import { Field } from '../ui.js';

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
      <ListTable<Entry>
        caption="Audit log, newest first"
        class="audit"
        rows={rows}
        rowKey={(e) => e.id}
        error={error}
        empty="No entry matches."
        onMore={cursor ? () => void load(cursor) : null}
        columns={[
          { header: 'When', cell: (e) => when(e.at) },
          { header: 'Action', cell: (e) => e.action },
          { header: 'Resource', cell: (e) => `${e.resource.type} ${e.resource.id}` },
          { header: 'Actor', cell: (e) => e.actor.name ?? e.actor.id },
          { header: 'Changes', class: 'dest', title: (e) => (e.changes ? JSON.stringify(e.changes) : ''), cell: (e) => (e.changes ? JSON.stringify(e.changes) : '—') },
        ]}
      />
    </section>
  );
}
