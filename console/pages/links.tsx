/**
 * Links: cursor-paged search (domain, tag, text, status, created range), copy the short URL, QR,
 * disable, delete, and tag or disable a selection. Write actions appear only for links:write keys.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Query } from '../api.js';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Domain, Link, Page } from '../types.js';
import { ListTable } from '../list-table.js';
import { Field } from '../ui.js';
import { QrDialog } from './qr-dialog.js';

interface Filters {
  domain: string;
  tag: string;
  q: string;
  status: '' | 'live' | 'pending' | 'disabled';
  created_from: string;
  created_to: string;
}

const EMPTY: Filters = { domain: '', tag: '', q: '', status: '', created_from: '', created_to: '' };

function toQuery(f: Filters): Query {
  return {
    domain: f.domain,
    tag: f.tag.trim(),
    q: f.q.trim(),
    status: f.status === 'live' || f.status === 'pending' ? f.status : '',
    disabled: f.status === 'disabled' ? true : f.status ? false : '',
    // dates from <input type=date>: the whole day, UTC
    created_from: f.created_from ? `${f.created_from}T00:00:00Z` : '',
    created_to: f.created_to ? `${f.created_to}T23:59:59.999Z` : '',
    limit: 50,
  };
}

export function LinksPage({ query }: { query: URLSearchParams }) {
  const { api, can } = useSession();
  const canWrite = can('links:write');
  const [filters, setFilters] = useState<Filters>({ ...EMPTY, tag: query.get('tag') ?? '' });
  const [applied, setApplied] = useState<Filters>(filters);
  const [rows, setRows] = useState<Link[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [total, setTotal] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(query.get('saved') ? `Saved ${query.get('saved')}` : null);
  const [domains, setDomains] = useState<Domain[]>([]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [qr, setQr] = useState<Link | null>(null);
  const [bulkTag, setBulkTag] = useState('');

  const load = async (f: Filters, after: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api.get<Page<Link>>('/v1/links', { ...toQuery(f), cursor: after });
      setRows((r) => (after ? [...r, ...page.data] : page.data));
      setCursor(page.next_cursor);
      setTotal(page.total_estimate ?? null);
      if (!after) setSelected(new Set());
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(applied, null);
  }, [applied]);
  useEffect(() => {
    api.get<Page<Domain>>('/v1/domains', { limit: 200 }).then((p) => setDomains(p.data), () => setDomains([]));
  }, []);

  const set = (k: keyof Filters) => (e: Event) => setFilters({ ...filters, [k]: (e.currentTarget as HTMLInputElement).value });
  const replace = (l: Link) => setRows((rs) => rs.map((r) => (r.id === l.id ? l : r)));

  const act = async (what: string, fn: () => Promise<void>) => {
    setError(null);
    try {
      await fn();
      setNotice(what);
    } catch (err) {
      setError(err);
    }
  };
  const copy = (l: Link) => act(`Copied ${l.short_url}`, () => navigator.clipboard.writeText(l.short_url));
  const toggle = (l: Link) =>
    act(`${l.disabled ? 'Enabled' : 'Disabled'} ${l.short_url}`, async () => replace(await api.send<Link>('PATCH', `/v1/links/${l.id}`, { disabled: !l.disabled })));
  const remove = (l: Link) => {
    if (!confirm(`Delete ${l.short_url}? Redirect nodes answer 404 for it from now on.`)) return;
    void act(`Deleted ${l.short_url}`, async () => {
      await api.send('DELETE', `/v1/links/${l.id}`);
      setRows((rs) => rs.filter((r) => r.id !== l.id));
    });
  };
  const chosen = rows.filter((r) => selected.has(r.id));
  const bulk = (label: string, patch: (l: Link) => Record<string, unknown>) =>
    act(`${label}: ${chosen.length} link(s)`, async () => {
      for (const l of chosen) replace(await api.send<Link>('PATCH', `/v1/links/${l.id}`, patch(l)));
    });

  return (
    <section aria-labelledby="links-title">
      <div class="title-row">
        <h1 id="links-title">Links</h1>
        {canWrite && (
          <a class="button" href="#/links/new">
            New link
          </a>
        )}
      </div>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ ...filters });
        }}
      >
        <Field label="Domain" id="f-domain">
          <select id="f-domain" value={filters.domain} onChange={set('domain')}>
            <option value="">All domains</option>
            {domains.map((d) => (
              <option value={d.hostname}>{d.hostname}</option>
            ))}
          </select>
        </Field>
        <Field label="Tag" id="f-tag">
          <input id="f-tag" value={filters.tag} onInput={set('tag')} />
        </Field>
        <Field label="Text" id="f-q">
          <input id="f-q" type="search" value={filters.q} onInput={set('q')} placeholder="path or destination" />
        </Field>
        <Field label="Status" id="f-status">
          <select id="f-status" value={filters.status} onChange={set('status')}>
            <option value="">Any</option>
            <option value="live">Live</option>
            <option value="pending">Pending</option>
            <option value="disabled">Disabled</option>
          </select>
        </Field>
        <Field label="Created from" id="f-from">
          <input id="f-from" type="date" value={filters.created_from} onInput={set('created_from')} />
        </Field>
        <Field label="Created to" id="f-to">
          <input id="f-to" type="date" value={filters.created_to} onInput={set('created_to')} />
        </Field>
        <div class="filter-actions">
          <button type="submit">Search</button>
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setFilters(EMPTY);
              setApplied(EMPTY);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      <ListTable<Link>
        caption="Links, newest first"
        class="links"
        rows={rows}
        rowKey={(l) => l.id}
        rowProps={(l) => ({ 'data-link-id': l.id })}
        error={error}
        notice={notice}
        loading={loading}
        status={total !== null ? `${rows.length} shown of about ${total}` : `${rows.length} shown`}
        onMore={cursor ? () => void load(applied, cursor) : null}
        columns={[
          canWrite && {
            header: (
              <input
                type="checkbox"
                aria-label="Select all shown"
                checked={rows.length > 0 && chosen.length === rows.length}
                onChange={(e) => setSelected(e.currentTarget.checked ? new Set(rows.map((r) => r.id)) : new Set())}
              />
            ),
            cell: (l) => (
              <input
                type="checkbox"
                aria-label={`Select ${l.short_url}`}
                checked={selected.has(l.id)}
                onChange={(e) => {
                  const s = new Set(selected);
                  if (e.currentTarget.checked) s.add(l.id);
                  else s.delete(l.id);
                  setSelected(s);
                }}
              />
            ),
          },
          {
            header: 'Short URL',
            class: 'short',
            cell: (l) => (
              <>
                <span>{l.short_url}</span>
                <button type="button" class="icon" aria-label={`Copy ${l.short_url}`} onClick={() => copy(l)}>
                  Copy
                </button>
              </>
            ),
          },
          {
            header: 'Destination',
            class: 'dest',
            title: (l) => l.destination_url,
            cell: (l) => (
              <>
                {l.destination_url}
                {l.routing && <span class="pill">rules</span>}
              </>
            ),
          },
          { header: 'Tags', cell: (l) => l.tags.map((t) => <span class="pill">{t}</span>) },
          { header: 'Status', cell: (l) => <span class={`status ${l.disabled ? 'disabled' : l.status}`}>{l.disabled ? 'disabled' : l.status}</span> },
          { header: 'Created', cell: (l) => when(l.created_at) },
          {
            header: 'Actions',
            class: 'actions',
            cell: (l) => (
              <>
                {can('analytics:read') && (
                  <a href={`#/links/${l.id}/stats`} aria-label={`Stats of ${l.short_url}`}>
                    Stats
                  </a>
                )}
                <button type="button" class="link" onClick={() => setQr(l)} aria-label={`QR code of ${l.short_url}`}>
                  QR
                </button>
                {canWrite && (
                  <>
                    <a href={`#/links/${l.id}/edit`} aria-label={`Edit ${l.short_url}`}>
                      Edit
                    </a>
                    <button type="button" class="link" onClick={() => toggle(l)} aria-label={`${l.disabled ? 'Enable' : 'Disable'} ${l.short_url}`}>
                      {l.disabled ? 'Enable' : 'Disable'}
                    </button>
                    <button type="button" class="link danger" onClick={() => remove(l)} aria-label={`Delete ${l.short_url}`}>
                      Delete
                    </button>
                  </>
                )}
              </>
            ),
          },
        ]}
      >
        {canWrite && chosen.length > 0 && (
          <div class="bulk-bar" role="region" aria-label="Selected links">
            <span>{chosen.length} selected</span>
            <label for="bulk-tag">Tag</label>
            <input id="bulk-tag" value={bulkTag} onInput={(e) => setBulkTag(e.currentTarget.value)} />
            <button type="button" disabled={!bulkTag.trim()} onClick={() => bulk(`Tagged "${bulkTag.trim()}"`, (l) => ({ tags: [...new Set([...l.tags, bulkTag.trim()])] }))}>
              Add tag
            </button>
            <button type="button" class="danger" onClick={() => bulk('Disabled', () => ({ disabled: true }))}>
              Disable selected
            </button>
          </div>
        )}
      </ListTable>
      {qr && <QrDialog link={qr} onClose={() => setQr(null)} />}
    </section>
  );
}
