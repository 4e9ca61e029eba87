/**
 * Create or edit a link. The browser checks what HTML can (required, URL, numbers); the API checks
 * the rest, and its answer's `details.field` puts the message beside the field it names.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useSession } from '../context.js';
import { go } from '../route.js';
import type { Domain, Link, Page } from '../types.js';
import { ErrorBanner, Field } from '../ui.js';
import { fromDraft, RuleBuilder, toDraft, type RoutingDraft } from './rule-builder.js';

interface Draft {
  domain: string;
  path: string;
  destination_url: string;
  tags: string;
  expires_at: string;
  redirect_status: string;
  forward_query: boolean;
  status: 'live' | 'pending';
  disabled: boolean;
  external_id: string;
  utm_source: string;
  utm_medium: string;
  utm_campaign: string;
}

const EMPTY: Draft = {
  domain: '', path: '', destination_url: '', tags: '', expires_at: '', redirect_status: '', forward_query: false, status: 'live',
  disabled: false, external_id: '', utm_source: '', utm_medium: '', utm_campaign: '',
};

const localOf = (iso: string | null) => (iso ? new Date(new Date(iso).getTime() - new Date(iso).getTimezoneOffset() * 60_000).toISOString().slice(0, 16) : '');

function fromLink(l: Link & { utm?: Record<string, string | null> | null }): Draft {
  return {
    domain: l.domain, path: l.path, destination_url: l.destination_url, tags: l.tags.join(', '), expires_at: localOf(l.expires_at),
    redirect_status: l.redirect_status ? String(l.redirect_status) : '', forward_query: l.forward_query, status: l.status, disabled: l.disabled,
    external_id: l.external_id ?? '', utm_source: l.utm?.source ?? '', utm_medium: l.utm?.medium ?? '', utm_campaign: l.utm?.campaign ?? '',
  };
}

export function LinkFormPage({ id }: { id: string | null }) {
  const { api } = useSession();
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [routing, setRouting] = useState<RoutingDraft>({ rules: [], ab: [] });
  const [domains, setDomains] = useState<Domain[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(id === null);

  useEffect(() => {
    api.get<Page<Domain>>('/v1/domains', { limit: 200 }).then((p) => {
      setDomains(p.data);
      if (!id && p.data[0]) setDraft((d) => (d.domain ? d : { ...d, domain: p.data[0]!.hostname }));
    }, setError);
    if (id) {
      api.get<Link>(`/v1/links/${id}`).then((l) => {
        setDraft(fromLink(l));
        setRouting(toDraft(l.routing));
        setLoaded(true);
      }, setError);
    }
  }, [id]);

  const apiErr = error instanceof ApiError ? error : null;
  /** The API's message for `prefix` or anything below it (routing.rules[0] covers routing.rules[0].url). */
  const fieldError = (prefix: string): string | null => {
    const f = apiErr?.field;
    if (!f) return null;
    return f === prefix || f.startsWith(`${prefix}.`) || f.startsWith(`${prefix}[`) ? apiErr.message : null;
  };
  const set = (k: keyof Draft) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setDraft({ ...draft, [k]: t.type === 'checkbox' ? t.checked : t.value });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const utm = { source: draft.utm_source || null, medium: draft.utm_medium || null, campaign: draft.utm_campaign || null };
    const body: Record<string, unknown> = {
      domain: draft.domain,
      destination_url: draft.destination_url.trim(),
      tags: draft.tags.split(',').map((t) => t.trim()).filter(Boolean),
      expires_at: draft.expires_at ? new Date(draft.expires_at).toISOString() : null,
      redirect_status: draft.redirect_status ? Number(draft.redirect_status) : null,
      forward_query: draft.forward_query,
      status: draft.status,
      disabled: draft.disabled,
      external_id: draft.external_id.trim() || null,
      utm: utm.source || utm.medium || utm.campaign ? utm : null,
      routing: fromDraft(routing),
    };
    if (draft.path.trim()) body.path = draft.path.trim();
    try {
      const saved = id ? await api.send<Link>('PATCH', `/v1/links/${id}`, body) : await api.send<Link>('POST', '/v1/links', body, { 'idempotency-key': crypto.randomUUID() });
      go(`#/links?saved=${encodeURIComponent(saved.short_url)}`);
    } catch (err) {
      setError(err);
      // bring the first message into view for keyboard and screen-reader users
      requestAnimationFrame(() => document.querySelector<HTMLElement>('[role=alert]')?.scrollIntoView({ block: 'center' }));
    } finally {
      setBusy(false);
    }
  };

  if (!loaded) return error ? <ErrorBanner error={error} /> : <p>Loading…</p>;
  const known = apiErr?.field && ['domain', 'path', 'destination_url', 'tags', 'expires_at', 'external_id', 'utm', 'routing', 'redirect_status'].some((p) => fieldError(p));
  return (
    <section aria-labelledby="lf-title">
      <h1 id="lf-title">{id ? `Edit ${draft.domain}/${draft.path}` : 'New link'}</h1>
      <form onSubmit={submit} class="link-form" noValidate={false}>
        {error !== null && !known && <ErrorBanner error={error} />}
        {apiErr && known && (
          <p class="banner error" role="alert">
            Not saved: {apiErr.message}
          </p>
        )}
        <div class="grid2">
          <Field label="Domain" id="lf-domain" error={fieldError('domain')}>
            <select id="lf-domain" required value={draft.domain} onChange={set('domain')}>
              {domains.map((d) => (
                <option value={d.hostname}>{d.hostname}</option>
              ))}
            </select>
          </Field>
          <Field label="Path" id="lf-path" hint="Empty: a generated one" error={fieldError('path')}>
            <input id="lf-path" value={draft.path} onInput={set('path')} maxLength={1024} />
          </Field>
        </div>
        <Field label="Destination URL" id="lf-destination" error={fieldError('destination_url')}>
          <input id="lf-destination" type="url" required value={draft.destination_url} onInput={set('destination_url')} />
        </Field>
        <div class="grid2">
          <Field label="Tags" id="lf-tags" hint="Comma-separated" error={fieldError('tags')}>
            <input id="lf-tags" value={draft.tags} onInput={set('tags')} />
          </Field>
          <Field label="Expires at" id="lf-expires" error={fieldError('expires_at')}>
            <input id="lf-expires" type="datetime-local" value={draft.expires_at} onInput={set('expires_at')} />
          </Field>
          <Field label="Redirect status" id="lf-status-code" error={fieldError('redirect_status')}>
            <select id="lf-status-code" value={draft.redirect_status} onChange={set('redirect_status')}>
              <option value="">Domain default</option>
              {['301', '302', '307', '308'].map((c) => (
                <option value={c}>{c}</option>
              ))}
            </select>
          </Field>
          <Field label="Status" id="lf-status" error={fieldError('status')}>
            <select id="lf-status" value={draft.status} onChange={set('status')}>
              <option value="live">Live</option>
              <option value="pending">Pending (answers 404)</option>
            </select>
          </Field>
          <Field label="External id" id="lf-external" error={fieldError('external_id')}>
            <input id="lf-external" value={draft.external_id} onInput={set('external_id')} />
          </Field>
        </div>
        <div class="row">
          <label for="lf-forward">
            <input id="lf-forward" type="checkbox" checked={draft.forward_query} onChange={set('forward_query')} /> Forward the visitor's query string
          </label>
          <label for="lf-disabled">
            <input id="lf-disabled" type="checkbox" checked={draft.disabled} onChange={set('disabled')} /> Disabled
          </label>
        </div>
        <fieldset>
          <legend>UTM parameters</legend>
          <div class="grid2">
            <Field label="utm_source" id="lf-utm-source" error={fieldError('utm.source')}>
              <input id="lf-utm-source" value={draft.utm_source} onInput={set('utm_source')} maxLength={200} />
            </Field>
            <Field label="utm_medium" id="lf-utm-medium" error={fieldError('utm.medium')}>
              <input id="lf-utm-medium" value={draft.utm_medium} onInput={set('utm_medium')} maxLength={200} />
            </Field>
            <Field label="utm_campaign" id="lf-utm-campaign" error={fieldError('utm.campaign')}>
              <input id="lf-utm-campaign" value={draft.utm_campaign} onInput={set('utm_campaign')} maxLength={200} />
            </Field>
          </div>
        </fieldset>
        <RuleBuilder value={routing} destination={draft.destination_url} onChange={setRouting} error={fieldError} />
        <div class="row">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : id ? 'Save changes' : 'Create link'}
          </button>
          <a href="#/links">Cancel</a>
        </div>
      </form>
    </section>
  );
}
