/** Review queue: links waiting for approval (status pending under a require_approval policy); approve or reject each. */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Link, Page } from '../types.js';
import { ListTable } from '../list-table.js';

export function ReviewPage() {
  const { api } = useSession();
  const [rows, setRows] = useState<Link[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const load = (after: string | null) =>
    api.get<Page<Link>>('/v1/links', { status: 'pending', limit: 100, cursor: after }).then((p) => {
      setRows((r) => (after ? [...r, ...p.data] : p.data));
      setCursor(p.next_cursor);
    }, setError);
  useEffect(() => {
    void load(null);
  }, []);
  const decide = async (l: Link, verb: 'approve' | 'reject') => {
    setError(null);
    try {
      await api.send('POST', `/v1/links/${l.id}/${verb}`);
      setNotice(`${verb === 'approve' ? 'Approved' : 'Rejected'} ${l.short_url}`);
      setRows((rs) => rs.filter((r) => r.id !== l.id));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-labelledby="review-title">
      <h1 id="review-title">Review queue</h1>
      <ListTable<Link>
        caption="Links waiting for review"
        class="review"
        rows={rows}
        rowKey={(l) => l.id}
        rowProps={(l) => ({ 'data-link-id': l.id })}
        error={error}
        notice={notice}
        empty="No link is waiting for review."
        onMore={cursor ? () => void load(cursor) : null}
        columns={[
          { header: 'Short URL', cell: (l) => l.short_url },
          { header: 'Destination', class: 'dest', title: (l) => l.destination_url, cell: (l) => l.destination_url },
          { header: 'Updated', cell: (l) => when(l.updated_at) },
          {
            header: 'Decision',
            class: 'actions',
            cell: (l) => (
              <>
                <button type="button" onClick={() => decide(l, 'approve')} aria-label={`Approve ${l.short_url}`}>
                  Approve
                </button>
                <button type="button" class="danger" onClick={() => decide(l, 'reject')} aria-label={`Reject ${l.short_url}`}>
                  Reject
                </button>
              </>
            ),
          },
        ]}
      />
    </section>
  );
}
