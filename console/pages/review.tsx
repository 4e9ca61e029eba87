/** Review queue: links waiting for approval (status pending under a require_approval policy); approve or reject each. */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Link, Page } from '../types.js';
import { ErrorBanner, Notice } from '../ui.js';

export function ReviewPage() {
  const { api } = useSession();
  const [rows, setRows] = useState<Link[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const load = () => api.get<Page<Link>>('/v1/links', { status: 'pending', limit: 100 }).then((p) => setRows(p.data), setError);
  useEffect(() => {
    void load();
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
      <ErrorBanner error={error} />
      <Notice text={notice} />
      {rows.length === 0 && <p class="muted">No link is waiting for review.</p>}
      <div class="table-wrap">
        <table class="review">
          <thead>
            <tr>
              <th scope="col">Short URL</th>
              <th scope="col">Destination</th>
              <th scope="col">Updated</th>
              <th scope="col">Decision</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((l) => (
              <tr data-link-id={l.id}>
                <td>{l.short_url}</td>
                <td class="dest" title={l.destination_url}>
                  {l.destination_url}
                </td>
                <td>{when(l.updated_at)}</td>
                <td class="actions">
                  <button type="button" onClick={() => decide(l, 'approve')} aria-label={`Approve ${l.short_url}`}>
                    Approve
                  </button>
                  <button type="button" class="danger" onClick={() => decide(l, 'reject')} aria-label={`Reject ${l.short_url}`}>
                    Reject
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
