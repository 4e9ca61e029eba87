/** The workspace link policy: read it (links:read), change it (policies:write), and list the live links it would refuse. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useSession } from '../context.js';
import { ErrorBanner, Field, Notice } from '../ui.js';

interface Policy {
  https_only: boolean;
  destination_hosts_allow: string[];
  destination_hosts_deny: string[];
  banned_path_words: string[];
  max_ttl_days: number | null;
  required_utm: string[];
  require_approval: boolean;
}

interface Violation {
  link_id: string;
  domain: string;
  path: string;
  violations: { rule: string; field: string; message: string }[];
}

const UTM = ['source', 'medium', 'campaign', 'term', 'content'];
const words = (s: string) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

export function PolicyPage() {
  const { api, can } = useSession();
  const canWrite = can('policies:write');
  const [p, setP] = useState<Policy | null>(null);
  const [text, setText] = useState({ allow: '', deny: '', banned: '', ttl: '' });
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [check, setCheck] = useState<Violation[] | null>(null);

  const show = (x: Policy) => {
    setP(x);
    setText({ allow: x.destination_hosts_allow.join(', '), deny: x.destination_hosts_deny.join(', '), banned: x.banned_path_words.join(', '), ttl: x.max_ttl_days === null ? '' : String(x.max_ttl_days) });
  };
  useEffect(() => {
    api.get<Policy>('/v1/policy').then(show, setError);
  }, []);
  if (!p) return <ErrorBanner error={error} />;

  const body = (): Policy => ({
    ...p,
    destination_hosts_allow: words(text.allow),
    destination_hosts_deny: words(text.deny),
    banned_path_words: words(text.banned),
    max_ttl_days: text.ttl ? Number(text.ttl) : null,
  });
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      show(await api.send<Policy>('PUT', '/v1/policy', body()));
      setNotice('Policy saved');
    } catch (err) {
      setError(err);
    }
  };
  const dryRun = async () => {
    setError(null);
    try {
      setCheck((await api.send<{ data: Violation[] }>('POST', '/v1/policy/check', { policy: body() })).data);
    } catch (err) {
      setError(err);
    }
  };
  const fe = (f: string) => (error instanceof ApiError && error.field?.startsWith(f) ? error.message : null);
  return (
    <section aria-labelledby="policy-title">
      <h1 id="policy-title">Link policy</h1>
      <ErrorBanner error={error} />
      <Notice text={notice} />
      <form onSubmit={save}>
        <fieldset disabled={!canWrite}>
          <legend>Workspace rules</legend>
          <div class="row">
            <label for="po-https">
              <input id="po-https" type="checkbox" checked={p.https_only} onChange={(e) => setP({ ...p, https_only: e.currentTarget.checked })} /> HTTPS destinations only
            </label>
            <label for="po-approval">
              <input id="po-approval" type="checkbox" checked={p.require_approval} onChange={(e) => setP({ ...p, require_approval: e.currentTarget.checked })} /> New and re-pointed links wait for a reviewer
            </label>
          </div>
          <div class="grid2">
            <Field label="Allowed destination hosts" id="po-allow" hint="e.g. shop.example.com, *.example.com; empty: any" error={fe('destination_hosts_allow')}>
              <input id="po-allow" value={text.allow} onInput={(e) => setText({ ...text, allow: e.currentTarget.value })} />
            </Field>
            <Field label="Denied destination hosts" id="po-deny" error={fe('destination_hosts_deny')}>
              <input id="po-deny" value={text.deny} onInput={(e) => setText({ ...text, deny: e.currentTarget.value })} />
            </Field>
            <Field label="Banned words in paths" id="po-banned" error={fe('banned_path_words')}>
              <input id="po-banned" value={text.banned} onInput={(e) => setText({ ...text, banned: e.currentTarget.value })} />
            </Field>
            <Field label="Links expire within (days)" id="po-ttl" hint="Empty: no limit" error={fe('max_ttl_days')}>
              <input id="po-ttl" type="number" min={1} max={36500} value={text.ttl} onInput={(e) => setText({ ...text, ttl: e.currentTarget.value })} />
            </Field>
          </div>
          <fieldset class="checks">
            <legend>Required UTM parameters</legend>
            {UTM.map((u) => (
              <label for={`po-utm-${u}`}>
                <input
                  id={`po-utm-${u}`}
                  type="checkbox"
                  checked={p.required_utm.includes(u)}
                  onChange={(e) => setP({ ...p, required_utm: e.currentTarget.checked ? [...p.required_utm, u] : p.required_utm.filter((x) => x !== u) })}
                />{' '}
                utm_{u}
              </label>
            ))}
          </fieldset>
        </fieldset>
        {canWrite && (
          <div class="row">
            <button type="submit">Save policy</button>
            <button type="button" class="secondary" onClick={dryRun}>
              Check live links against it
            </button>
          </div>
        )}
      </form>
      {check && (
        <section aria-labelledby="check-title">
          <h2 id="check-title">{check.length ? `${check.length} live link(s) would be refused` : 'Every live link checked follows it'}</h2>
          <ul>
            {check.map((v) => (
              <li>
                {v.domain}/{v.path}: {v.violations.map((x) => x.message).join('; ')}
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
