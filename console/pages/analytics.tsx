/**
 * Analytics of one link (#/links/<id>/stats) or of the workspace (#/analytics): clicks, QR scans and
 * visitors over time, the top countries, devices, referrers, languages, variants and sources, with a range
 * picker and a bot toggle; CSV export of the series (and of the raw clicks of a link, from the API).
 */
import { useEffect, useState } from 'preact/hooks';
import { useSession } from '../context.js';
import { download, num } from '../format.js';
import type { Link, LinkStats as Stats, StatsGroup as Group } from '../types.js';
import { ErrorBanner, Field } from '../ui.js';
import { TimeChart } from './time-chart.js';

const RANGES = [
  { id: '24h', label: 'Last 24 hours', hours: 24 },
  { id: '7d', label: 'Last 7 days', hours: 24 * 7 },
  { id: '30d', label: 'Last 30 days', hours: 24 * 30 },
  { id: '90d', label: 'Last 90 days', hours: 24 * 90 },
  { id: 'custom', label: 'Custom', hours: 0 },
] as const;

const TOPS = [
  { by: 'country', title: 'Countries' },
  { by: 'device', title: 'Devices' },
  { by: 'referrer', title: 'Referrers' },
  { by: 'language', title: 'Languages' },
  { by: 'variant', title: 'A/B variants' },
  { by: 'source', title: 'Clicks and QR scans' },
] as const;

function csv(rows: (string | number | null)[][]): Blob {
  const cell = (v: string | number | null) => (v === null ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return new Blob([rows.map((r) => r.map(cell).join(',')).join('\n') + '\n'], { type: 'text/csv' });
}

export function AnalyticsPage({ linkId }: { linkId: string | null }) {
  const { api } = useSession();
  const [range, setRange] = useState<(typeof RANGES)[number]['id']>('7d');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [bots, setBots] = useState(false);
  const [stats, setStats] = useState<Stats | null>(null);
  const [tops, setTops] = useState<Record<string, Group[]>>({});
  const [link, setLink] = useState<Link | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);

  const span = (): { from: string; to: string } | null => {
    if (range === 'custom') return from && to ? { from: `${from}T00:00:00Z`, to: new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString() } : null;
    const hours = RANGES.find((r) => r.id === range)!.hours;
    const end = new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000);
    return { from: new Date(end.getTime() - hours * 3_600_000).toISOString(), to: end.toISOString() };
  };
  const path = linkId ? `/v1/links/${linkId}/stats` : '/v1/stats';

  useEffect(() => {
    if (linkId) api.get<Link>(`/v1/links/${linkId}`).then(setLink, setError);
  }, [linkId]);

  const load = async () => {
    const w = span();
    if (!w) return;
    const hours = (Date.parse(w.to) - Date.parse(w.from)) / 3_600_000;
    const q = { ...w, interval: hours <= 72 ? 'hour' : 'day', exclude_bots: !bots };
    setLoading(true);
    setError(null);
    try {
      // one request per top list; each carries the same totals and series
      const groups = [...TOPS.map((t) => t.by), ...(linkId ? [] : ['link'])];
      const each = await Promise.all(groups.map((by) => api.get<Stats>(path, { ...q, group_by: by, limit: 10 })));
      setStats(each[0]!);
      setTops(Object.fromEntries(groups.map((by, i) => [by, each[i]!.groups])));
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, [range, bots, linkId]);

  const exportSeries = () => {
    if (!stats) return;
    download(csv([['start', 'clicks', 'scans', 'visitors'], ...stats.series.map((p) => [p.start, p.clicks, p.scans, p.visitors])]), `${linkId ?? 'workspace'}-clicks-${stats.interval}.csv`);
  };
  const exportClicks = async () => {
    const w = span();
    if (!linkId || !w) return;
    try {
      download(await api.blob(`/v1/links/${linkId}/clicks`, { ...w, format: 'csv', exclude_bots: !bots }), `${linkId}-clicks.csv`);
    } catch (err) {
      setError(err);
    }
  };

  const title = linkId ? `Analytics · ${link?.short_url ?? linkId}` : 'Workspace analytics';
  return (
    <section aria-labelledby="an-title">
      <h1 id="an-title">{title}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void load();
        }}
      >
        <Field label="Range" id="an-range">
          <select id="an-range" value={range} onChange={(e) => setRange(e.currentTarget.value as typeof range)}>
            {RANGES.map((r) => (
              <option value={r.id}>{r.label}</option>
            ))}
          </select>
        </Field>
        {range === 'custom' && (
          <>
            <Field label="From (UTC day)" id="an-from">
              <input id="an-from" type="date" required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
            </Field>
            <Field label="To (UTC day, included)" id="an-to">
              <input id="an-to" type="date" required value={to} onInput={(e) => setTo(e.currentTarget.value)} />
            </Field>
          </>
        )}
        <div class="field">
          <label for="an-bots">
            <input id="an-bots" type="checkbox" checked={bots} onChange={(e) => setBots(e.currentTarget.checked)} /> Include bots
          </label>
        </div>
        <div class="filter-actions">
          <button type="submit">Refresh</button>
          <button type="button" class="secondary" onClick={exportSeries} disabled={!stats}>
            Export series (CSV)
          </button>
          {linkId && (
            <button type="button" class="secondary" onClick={exportClicks}>
              Export clicks (CSV)
            </button>
          )}
        </div>
      </form>
      <ErrorBanner error={error} />
      {stats && (
        <>
          <div class="totals" aria-live="polite" aria-busy={loading}>
            <div>
              <strong data-testid="total-clicks">{num(stats.totals.clicks)}</strong> clicks
            </div>
            <div>
              <strong data-testid="total-scans">{num(stats.totals.scans)}</strong> QR scans
            </div>
            <div>
              <strong data-testid="total-visitors">{num(stats.totals.visitors)}</strong> visitors
            </div>
          </div>
          <TimeChart series={stats.series} label={`Clicks, QR scans and visitors per ${stats.interval}: ${stats.totals.clicks} clicks and ${stats.totals.scans} QR scans in all`} />
          <div class="cards">
            {!linkId && <TopCard title="Top links" rows={tops.link ?? []} name={(g) => g.link?.short_url?.replace(/^https?:\/\//, '') ?? g.value ?? 'unknown'} />}
            {TOPS.map((t) => (
              <TopCard title={t.title} rows={tops[t.by] ?? []} name={(g) => g.value ?? (t.by === 'variant' ? 'no split' : 'unknown')} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}

function TopCard({ title, rows, name }: { title: string; rows: Group[]; name(g: Group): string }) {
  const id = `top-${title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  return (
    <div class="card">
      <h2 id={id}>{title}</h2>
      {rows.length === 0 ? (
        <p class="muted">No clicks in this range.</p>
      ) : (
        <table aria-labelledby={id}>
          <thead>
            <tr>
              <th scope="col">Value</th>
              <th scope="col">Clicks</th>
              <th scope="col">Visitors</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((g) => (
              <tr>
                <td>{name(g)}</td>
                <td>{num(g.clicks)}</td>
                <td>{num(g.visitors)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
