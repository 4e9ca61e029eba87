/**
 * Rule builder for a link's `routing`: rules (geo, device/OS, language, IP, query, time window) each
 * with one URL or a weighted split, then the default weighted A/B split. Each rule reads back as a
 * sentence ("A visitor from SG on iOS goes to …"). Edits the API's own shape; shorthands loaded from
 * a stored link (geo, device) become rules.
 */
import type { Routing, Rule, RuleWhen, Variant } from '../types.js';
import { Field } from '../ui.js';

export const OS = ['iOS', 'Android', 'Windows', 'macOS', 'Linux', 'ChromeOS'];
export const DEVICES = ['mobile', 'tablet', 'desktop', 'bot'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The editable form of routing: list fields as typed text, so half-typed input survives re-renders. */
export interface RuleDraft {
  countries: string;
  os: string[];
  device: string[];
  languages: string;
  ips: string;
  queryKey: string;
  queryValue: string;
  timeOn: boolean;
  from: string;
  to: string;
  days: number[];
  hoursFrom: string;
  hoursTo: string;
  timezone: string;
  split: boolean;
  url: string;
  variants: Variant[];
}

export interface RoutingDraft {
  rules: RuleDraft[];
  ab: Variant[];
}

export const emptyRule = (): RuleDraft => ({
  countries: '', os: [], device: [], languages: '', ips: '', queryKey: '', queryValue: '', timeOn: false,
  from: '', to: '', days: [], hoursFrom: '', hoursTo: '', timezone: 'UTC', split: false, url: '', variants: [],
});

const list = (s: string) => s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
/** datetime-local (no zone, the browser's time) ↔ ISO instant. */
const toLocal = (iso: string | null | undefined) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocal = (v: string) => (v ? new Date(v).toISOString() : null);

function ruleToDraft(r: Rule): RuleDraft {
  const w = r.when;
  const q = Object.entries(w.query ?? {})[0];
  const osLower = (w.os ?? []).map((o) => o.toLowerCase());
  return {
    ...emptyRule(),
    countries: (w.country ?? []).join(', '),
    os: OS.filter((o) => osLower.includes(o.toLowerCase())),
    device: w.device ?? [],
    languages: (w.language ?? []).join(', '),
    ips: (w.ip ?? []).join(', '),
    queryKey: q?.[0] ?? '',
    queryValue: q?.[1] ?? '',
    timeOn: !!w.time,
    from: toLocal(w.time?.from),
    to: toLocal(w.time?.to),
    days: w.time?.days ?? [],
    hoursFrom: w.time?.hours ? String(w.time.hours[0]) : '',
    hoursTo: w.time?.hours ? String(w.time.hours[1]) : '',
    timezone: w.time?.timezone ?? 'UTC',
    split: !!r.variants,
    url: r.url ?? '',
    variants: r.variants ?? [],
  };
}

/** A stored link's routing (rules, then the geo and device shorthands, as the API orders them). */
export function toDraft(routing: (Routing & { geo?: { country: string | string[]; url: string }[]; device?: { os?: string | string[]; device?: string | string[]; url: string }[] }) | null): RoutingDraft {
  const arr = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
  const rules: Rule[] = [
    ...(routing?.rules ?? []),
    ...(routing?.geo ?? []).map((g) => ({ when: { country: arr(g.country) }, url: g.url })),
    ...(routing?.device ?? []).map((d) => ({ when: { os: arr(d.os), device: arr(d.device) }, url: d.url })),
  ];
  return { rules: rules.map(ruleToDraft), ab: routing?.ab ?? [] };
}

function whenOf(d: RuleDraft): RuleWhen {
  const w: RuleWhen = {};
  if (list(d.countries).length) w.country = list(d.countries).map((c) => c.toUpperCase());
  if (d.os.length) w.os = d.os;
  if (d.device.length) w.device = d.device;
  if (list(d.languages).length) w.language = list(d.languages);
  if (list(d.ips).length) w.ip = list(d.ips);
  if (d.queryKey.trim()) w.query = { [d.queryKey.trim()]: d.queryValue };
  if (d.timeOn) {
    const t: NonNullable<RuleWhen['time']> = { timezone: d.timezone.trim() || 'UTC' };
    if (d.from) t.from = fromLocal(d.from);
    if (d.to) t.to = fromLocal(d.to);
    if (d.days.length) t.days = [...d.days].sort();
    if (d.hoursFrom !== '' && d.hoursTo !== '') t.hours = [Number(d.hoursFrom), Number(d.hoursTo)];
    w.time = t;
  }
  return w;
}

/** The API's routing, or null when there is nothing to route. */
export function fromDraft(d: RoutingDraft): Routing | null {
  const rules = d.rules.map((r): Rule => ({ when: whenOf(r), ...(r.split ? { variants: r.variants } : { url: r.url.trim() }) }));
  if (!rules.length && !d.ab.length) return null;
  return { ...(rules.length ? { rules } : {}), ...(d.ab.length ? { ab: d.ab } : {}) };
}

function splitText(vs: Variant[]): string {
  const total = vs.reduce((s, v) => s + (v.weight || 0), 0);
  if (!total) return 'a split with no weight yet';
  return vs.map((v) => `${v.url || '…'} (${Math.round((100 * v.weight) / total)} %)`).join(' or ');
}

/** "A visitor from SG or MY on iOS, speaking en, … goes to …". */
export function ruleSentence(d: RuleDraft): string {
  const w = whenOf(d);
  const parts: string[] = [];
  if (w.country) parts.push(`from ${w.country.join(' or ')}`);
  if (w.device) parts.push(`on a ${w.device.join(' or ')} device`);
  if (w.os) parts.push(`on ${w.os.join(' or ')}`);
  if (w.language) parts.push(`whose browser prefers ${w.language.join(' or ')}`);
  if (w.ip) parts.push(`from an address in ${w.ip.join(', ')}`);
  if (w.query) parts.push(`with ?${Object.entries(w.query).map(([k, v]) => `${k}=${v}`).join('')} in the link`);
  if (w.time) {
    const t = w.time;
    if (t.from) parts.push(`from ${t.from.slice(0, 16).replace('T', ' ')}`);
    if (t.to) parts.push(`until ${t.to.slice(0, 16).replace('T', ' ')}`);
    if (t.days) parts.push(`on ${t.days.map((x) => DAYS[x]).join(', ')}`);
    if (t.hours) parts.push(`between ${t.hours[0]}:00 and ${t.hours[1]}:00`);
    parts.push(`(${t.timezone})`);
  }
  const who = parts.length ? `A visitor ${parts.join(' ')}` : 'A visitor (no condition yet: add one)';
  return `${who} goes to ${d.split ? splitText(d.variants) : d.url.trim() || '…'}.`;
}

export function defaultSentence(d: RoutingDraft, destination: string): string {
  const lead = d.rules.length ? 'Everyone else' : 'Every visitor';
  return `${lead} goes to ${d.ab.length ? splitText(d.ab) : destination || '…'}.`;
}

function Variants(props: { id: string; variants: Variant[]; onChange(v: Variant[]): void; error: (f: string) => string | null; field: string }) {
  const { variants, onChange } = props;
  const set = (i: number, patch: Partial<Variant>) => onChange(variants.map((v, k) => (k === i ? { ...v, ...patch } : v)));
  return (
    <div class="variants">
      {variants.map((v, i) => (
        <div class="row">
          <Field label={`Variant ${i + 1} URL`} id={`${props.id}-v${i}-url`} error={props.error(`${props.field}[${i}].url`)}>
            <input id={`${props.id}-v${i}-url`} type="url" required value={v.url} onInput={(e) => set(i, { url: e.currentTarget.value })} />
          </Field>
          <Field label="Weight" id={`${props.id}-v${i}-w`} error={props.error(`${props.field}[${i}].weight`)}>
            <input id={`${props.id}-v${i}-w`} type="number" min={0} max={1000000} step={1} required value={String(v.weight)} onInput={(e) => set(i, { weight: Number(e.currentTarget.value) })} />
          </Field>
          <button type="button" class="secondary" aria-label={`Remove variant ${i + 1}`} onClick={() => onChange(variants.filter((_, k) => k !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="secondary" onClick={() => onChange([...variants, { url: '', weight: variants.length ? 50 : 100 }])}>
        Add variant
      </button>
    </div>
  );
}

function CheckGroup(props: { legend: string; options: string[]; value: string[]; onChange(v: string[]): void; id: string }) {
  return (
    <fieldset class="checks">
      <legend>{props.legend}</legend>
      {props.options.map((o) => (
        <label for={`${props.id}-${o}`}>
          <input
            id={`${props.id}-${o}`}
            type="checkbox"
            checked={props.value.includes(o)}
            onChange={(e) => props.onChange(e.currentTarget.checked ? [...props.value, o] : props.value.filter((x) => x !== o))}
          />{' '}
          {o}
        </label>
      ))}
    </fieldset>
  );
}

export function RuleBuilder(props: { value: RoutingDraft; destination: string; onChange(d: RoutingDraft): void; error: (prefix: string) => string | null }) {
  const { value, onChange, error } = props;
  const setRule = (i: number, patch: Partial<RuleDraft>) => onChange({ ...value, rules: value.rules.map((r, k) => (k === i ? { ...r, ...patch } : r)) });
  return (
    <fieldset class="routing">
      <legend>Routing</legend>
      <p class="hint">The first rule whose conditions all hold picks the destination; then the default split; then the destination URL.</p>
      {value.rules.map((r, i) => {
        const id = `rule${i}`;
        const f = `routing.rules[${i}]`;
        const on = (k: keyof RuleDraft) => (e: Event) => setRule(i, { [k]: (e.currentTarget as HTMLInputElement).value } as Partial<RuleDraft>);
        return (
          <fieldset class="rule" aria-label={`Rule ${i + 1}`}>
            <legend>Rule {i + 1}</legend>
            <p class="preview" aria-live="polite" data-testid={`rule-preview-${i}`}>
              {ruleSentence(r)}
            </p>
            {error(f) && !error(`${f}.when`) && !error(`${f}.url`) && !error(`${f}.variants`) && (
              <p class="field-error" role="alert">
                {error(f)}
              </p>
            )}
            <div class="grid2">
              <Field label="Countries (ISO codes)" id={`${id}-country`} hint="e.g. SG, MY" error={error(`${f}.when.country`)}>
                <input id={`${id}-country`} value={r.countries} onInput={on('countries')} pattern="^\s*[A-Za-z]{2}(\s*[,\s]\s*[A-Za-z]{2})*\s*$" />
              </Field>
              <Field label="Languages" id={`${id}-language`} hint="e.g. en, pt-BR" error={error(`${f}.when.language`)}>
                <input id={`${id}-language`} value={r.languages} onInput={on('languages')} />
              </Field>
              <Field label="IP addresses or CIDRs" id={`${id}-ip`} hint="e.g. 10.0.0.0/8, 2001:db8::/32" error={error(`${f}.when.ip`)}>
                <input id={`${id}-ip`} value={r.ips} onInput={on('ips')} />
              </Field>
              <div class="row">
                <Field label="Query parameter" id={`${id}-qk`} error={error(`${f}.when.query`)}>
                  <input id={`${id}-qk`} value={r.queryKey} onInput={on('queryKey')} />
                </Field>
                <Field label="equals" id={`${id}-qv`}>
                  <input id={`${id}-qv`} value={r.queryValue} onInput={on('queryValue')} />
                </Field>
              </div>
            </div>
            <CheckGroup legend="Operating system" id={`${id}-os`} options={OS} value={r.os} onChange={(os) => setRule(i, { os })} />
            <CheckGroup legend="Device" id={`${id}-device`} options={DEVICES} value={r.device} onChange={(device) => setRule(i, { device })} />
            {error(`${f}.when.os`) && <p class="field-error" role="alert">{error(`${f}.when.os`)}</p>}
            {error(`${f}.when.device`) && <p class="field-error" role="alert">{error(`${f}.when.device`)}</p>}
            <label for={`${id}-time`}>
              <input id={`${id}-time`} type="checkbox" checked={r.timeOn} onChange={(e) => setRule(i, { timeOn: e.currentTarget.checked })} /> Only in a time window
            </label>
            {r.timeOn && (
              <fieldset class="time">
                <legend>Time window</legend>
                <div class="grid2">
                  <Field label="From" id={`${id}-from`} error={error(`${f}.when.time.from`)}>
                    <input id={`${id}-from`} type="datetime-local" value={r.from} onInput={on('from')} />
                  </Field>
                  <Field label="Until" id={`${id}-to`} error={error(`${f}.when.time.to`)}>
                    <input id={`${id}-to`} type="datetime-local" value={r.to} onInput={on('to')} />
                  </Field>
                  <Field label="Hours from (0–24)" id={`${id}-hf`} error={error(`${f}.when.time.hours`)}>
                    <input id={`${id}-hf`} type="number" min={0} max={24} value={r.hoursFrom} onInput={on('hoursFrom')} />
                  </Field>
                  <Field label="Hours until (0–24)" id={`${id}-ht`}>
                    <input id={`${id}-ht`} type="number" min={0} max={24} value={r.hoursTo} onInput={on('hoursTo')} />
                  </Field>
                  <Field label="Time zone (IANA)" id={`${id}-tz`} error={error(`${f}.when.time.timezone`)}>
                    <input id={`${id}-tz`} value={r.timezone} onInput={on('timezone')} />
                  </Field>
                </div>
                <CheckGroup
                  legend="Days"
                  id={`${id}-days`}
                  options={DAYS}
                  value={r.days.map((d) => DAYS[d]!)}
                  onChange={(names) => setRule(i, { days: names.map((n) => DAYS.indexOf(n)) })}
                />
              </fieldset>
            )}
            <label for={`${id}-split`}>
              <input id={`${id}-split`} type="checkbox" checked={r.split} onChange={(e) => setRule(i, { split: e.currentTarget.checked, variants: r.variants.length ? r.variants : [{ url: r.url, weight: 50 }, { url: '', weight: 50 }] })} /> Split between
              weighted URLs (A/B)
            </label>
            {r.split ? (
              <Variants id={id} field={`${f}.variants`} variants={r.variants} onChange={(variants) => setRule(i, { variants })} error={error} />
            ) : (
              <Field label="Goes to URL" id={`${id}-url`} error={error(`${f}.url`)}>
                <input id={`${id}-url`} type="url" required value={r.url} onInput={on('url')} />
              </Field>
            )}
            <div class="row">
              <button type="button" class="secondary" disabled={i === 0} onClick={() => onChange({ ...value, rules: swap(value.rules, i, i - 1) })}>
                Move up
              </button>
              <button type="button" class="secondary danger-text" onClick={() => onChange({ ...value, rules: value.rules.filter((_, k) => k !== i) })}>
                Remove rule {i + 1}
              </button>
            </div>
          </fieldset>
        );
      })}
      <button type="button" class="secondary" onClick={() => onChange({ ...value, rules: [...value.rules, emptyRule()] })}>
        Add rule
      </button>
      <fieldset class="rule">
        <legend>Default split (A/B)</legend>
        <p class="preview" aria-live="polite" data-testid="default-preview">
          {defaultSentence(value, props.destination)}
        </p>
        {error('routing.ab') && <p class="field-error" role="alert">{error('routing.ab')}</p>}
        <Variants id="ab" field="routing.ab" variants={value.ab} onChange={(ab) => onChange({ ...value, ab })} error={error} />
      </fieldset>
    </fieldset>
  );
}

function swap<T>(xs: T[], i: number, j: number): T[] {
  const out = [...xs];
  [out[i], out[j]] = [out[j]!, out[i]!];
  return out;
}
