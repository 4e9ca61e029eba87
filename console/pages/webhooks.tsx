/**
 * Webhooks: endpoints (create — the secret is shown once —, rotate the secret, pause/resume),
 * deliveries with their attempts, replay one delivery or a filtered set of an endpoint, dead letters.
 */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { when } from '../format.js';
import type { Page, WebhookDelivery as Delivery, WebhookEndpoint as Endpoint } from '../types.js';
import { ListTable } from '../list-table.js';
import { Field } from '../ui.js';

type DeliveryStatus = '' | Delivery['status'];

export function WebhooksPage() {
  const { api, can } = useSession();
  const canWrite = can('webhooks:write');
  const [endpoints, setEndpoints] = useState<Endpoint[]>([]);
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [status, setStatus] = useState<DeliveryStatus>('');
  const [endpointFilter, setEndpointFilter] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ endpoint: string; value: string } | null>(null);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('*');
  const [open, setOpen] = useState<string | null>(null);
  const [replayStatus, setReplayStatus] = useState<'dead' | 'failed'>('dead');
  const [replayFrom, setReplayFrom] = useState('');

  const [epCursor, setEpCursor] = useState<string | null>(null);
  const [dlCursor, setDlCursor] = useState<string | null>(null);
  const loadEndpoints = (after: string | null = null) =>
    api.get<Page<Endpoint>>('/v1/webhooks/endpoints', { limit: 100, cursor: after }).then((p) => {
      setEndpoints((old) => (after ? [...old, ...p.data] : p.data));
      setEpCursor(p.next_cursor);
    }, setError);
  const loadDeliveries = (after: string | null = null) =>
    api.get<Page<Delivery>>('/v1/webhooks/deliveries', { limit: 50, status, endpoint_id: endpointFilter, cursor: after }).then((p) => {
      setDeliveries((old) => (after ? [...old, ...p.data] : p.data));
      setDlCursor(p.next_cursor);
    }, setError);
  useEffect(() => {
    void loadEndpoints();
  }, []);
  useEffect(() => {
    void loadDeliveries();
  }, [status, endpointFilter]);

  const act = async (what: string, fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      setNotice(what);
    } catch (err) {
      setError(err);
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    void act('Endpoint created', async () => {
      const ep = await api.send<Endpoint & { secret: string }>('POST', '/v1/webhooks/endpoints', { url: url.trim(), events: events.split(',').map((x) => x.trim()).filter(Boolean) });
      setSecret({ endpoint: ep.id, value: ep.secret });
      setUrl('');
      await loadEndpoints();
    });
  };
  const rotate = (ep: Endpoint) =>
    act(`Secret of ${ep.url} rotated`, async () => {
      const r = await api.send<{ secret: string }>('POST', `/v1/webhooks/endpoints/${ep.id}/secrets/rotate`, {});
      setSecret({ endpoint: ep.id, value: r.secret });
    });
  const pause = (ep: Endpoint) =>
    act(`${ep.enabled ? 'Paused' : 'Resumed'} ${ep.url}`, async () => {
      await api.send('PATCH', `/v1/webhooks/endpoints/${ep.id}`, { enabled: !ep.enabled });
      await loadEndpoints();
    });
  const replayOne = (d: Delivery) =>
    act(`Delivery ${d.id} queued again`, async () => {
      await api.send('POST', `/v1/webhooks/deliveries/${d.id}/replay`);
      await loadDeliveries();
    });
  const replaySet = (ep: Endpoint) =>
    act(`Replay of ${ep.url} requested`, async () => {
      const r = await api.send<{ replayed: number; created: number; more: boolean }>('POST', `/v1/webhooks/endpoints/${ep.id}/replay`, {
        status: replayStatus,
        ...(replayFrom ? { from: replayFrom } : {}),
      });
      setNotice(`Replayed ${r.replayed} ${replayStatus} deliveries of ${ep.url}${r.more ? ' (more remain: replay again)' : ''}`);
      await loadDeliveries();
    }).then(() => undefined);

  return (
    <section aria-labelledby="wh-title">
      <h1 id="wh-title">Webhooks</h1>
      <h2>Endpoints</h2>
      {canWrite && (
        <form class="filters" onSubmit={create} aria-label="New endpoint">
          <Field label="Endpoint URL" id="wh-url">
            <input id="wh-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
          </Field>
          <Field label="Events" id="wh-events" hint="e.g. link.*, job.finished, *">
            <input id="wh-events" value={events} onInput={(e) => setEvents(e.currentTarget.value)} />
          </Field>
          <div class="filter-actions">
            <button type="submit">Add endpoint</button>
          </div>
        </form>
      )}
      {canWrite && (
        <div class="row replay-options">
          <Field label="Replay which deliveries" id="wh-replay-status">
            <select id="wh-replay-status" value={replayStatus} onChange={(e) => setReplayStatus(e.currentTarget.value as 'dead' | 'failed')}>
              <option value="dead">Dead letters</option>
              <option value="failed">Failed (retry scheduled)</option>
            </select>
          </Field>
          <Field label="Since (date)" id="wh-replay-from">
            <input id="wh-replay-from" type="date" value={replayFrom} onInput={(e) => setReplayFrom(e.currentTarget.value)} />
          </Field>
        </div>
      )}
      <ListTable<Endpoint>
        caption="Webhook endpoints"
        class="endpoints"
        rows={endpoints}
        rowKey={(ep) => ep.id}
        rowProps={(ep) => ({ 'data-endpoint-id': ep.id })}
        error={error}
        notice={notice}
        empty="No endpoint yet."
        onMore={epCursor ? () => void loadEndpoints(epCursor) : null}
        columns={[
          { header: 'URL', cell: (ep) => ep.url },
          { header: 'Events', cell: (ep) => ep.events.join(', ') },
          {
            header: 'State',
            cell: (ep) => (
              <span class={`status ${ep.enabled ? 'live' : 'disabled'}`}>
                {ep.enabled ? (ep.failing_since ? 'failing' : 'active') : `paused${ep.disabled_reason && ep.disabled_reason !== 'manual' ? ` (${ep.disabled_reason})` : ''}`}
              </span>
            ),
          },
          {
            header: 'Actions',
            class: 'actions',
            cell: (ep) => (
              <>
                <button type="button" class="link" onClick={() => setEndpointFilter(ep.id)} aria-label={`Deliveries of ${ep.url}`}>
                  Deliveries
                </button>
                {canWrite && (
                  <>
                    <button type="button" class="link" onClick={() => rotate(ep)} aria-label={`Rotate secret of ${ep.url}`}>
                      Rotate secret
                    </button>
                    <button type="button" class="link" onClick={() => pause(ep)} aria-label={`${ep.enabled ? 'Pause' : 'Resume'} ${ep.url}`}>
                      {ep.enabled ? 'Pause' : 'Resume'}
                    </button>
                    <button type="button" class="link" onClick={() => replaySet(ep)} aria-label={`Replay deliveries of ${ep.url}`}>
                      Replay
                    </button>
                  </>
                )}
              </>
            ),
          },
        ]}
      >
        {secret && (
          <div class="banner notice" role="region" aria-label="New signing secret">
            <p>
              Signing secret of {secret.endpoint} — shown once, store it now:
            </p>
            <p class="secret" data-testid="secret">
              {secret.value}
            </p>
            <button type="button" class="secondary" onClick={() => setSecret(null)}>
              I stored it
            </button>
          </div>
        )}
      </ListTable>
      <h2>Deliveries</h2>
      <div class="filters">
        <Field label="Delivery status" id="wh-status">
          <select id="wh-status" value={status} onChange={(e) => setStatus(e.currentTarget.value as DeliveryStatus)}>
            <option value="">Any</option>
            <option value="pending">Pending</option>
            <option value="failed">Failed (retrying)</option>
            <option value="dead">Dead letters</option>
            <option value="succeeded">Succeeded</option>
          </select>
        </Field>
        <Field label="Endpoint" id="wh-endpoint">
          <select id="wh-endpoint" value={endpointFilter} onChange={(e) => setEndpointFilter(e.currentTarget.value)}>
            <option value="">All endpoints</option>
            {endpoints.map((ep) => (
              <option value={ep.id}>{ep.url}</option>
            ))}
          </select>
        </Field>
        <div class="filter-actions">
          <button type="button" class="secondary" onClick={() => void loadDeliveries()}>
            Refresh deliveries
          </button>
        </div>
      </div>
      <ListTable<Delivery>
        caption="Webhook deliveries, newest first"
        class="deliveries"
        rows={deliveries}
        rowKey={(d) => d.id}
        rowProps={(d) => ({ 'data-delivery-id': d.id })}
        empty="No delivery matches."
        onMore={dlCursor ? () => void loadDeliveries(dlCursor) : null}
        detail={(d) =>
          open === d.id ? (
            <ol class="attempts">
              {d.attempts.map((a) => (
                <li>
                  {when(a.started_at)} · {a.status_code ?? a.error ?? 'no answer'} · {a.duration_ms ?? '—'} ms
                </li>
              ))}
            </ol>
          ) : null
        }
        columns={[
          { header: 'Event', cell: (d) => d.event_type },
          { header: 'Status', cell: (d) => <span class={`status ${d.status}`}>{d.status === 'dead' ? 'dead letter' : d.status}</span> },
          {
            header: 'Attempts',
            cell: (d) => (
              <button type="button" class="link" aria-expanded={open === d.id} onClick={() => setOpen(open === d.id ? null : d.id)} aria-label={`${d.attempt_count} attempts of ${d.id}`}>
                {d.attempt_count}
              </button>
            ),
          },
          { header: 'Last answer', cell: (d) => d.last_status_code ?? d.last_error ?? '—' },
          { header: 'Created', cell: (d) => when(d.created_at) },
          {
            header: 'Actions',
            class: 'actions',
            cell: (d) =>
              canWrite && d.status !== 'pending' && (
                <button type="button" class="link" onClick={() => replayOne(d)} aria-label={`Replay ${d.id}`}>
                  Replay
                </button>
              ),
          },
        ]}
      />
    </section>
  );
}
