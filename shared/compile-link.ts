/**
 * link (as stored) + its domain's settings → the compiled rule a node serves (rule-format.ts).
 * Pure and deterministic: the same input always gives the same bytes.
 */
import {
  RULE_FORMAT,
  type CompiledDomain,
  type CompiledLink,
  type CompiledRule,
  type Condition,
  type DeviceClass,
  type Needs,
  type OsName,
  type RedirectStatus,
  type Variant,
} from './rule-format.js';

export const UTM_KEYS = ['source', 'medium', 'campaign', 'term', 'content'] as const;
export type UtmKey = (typeof UTM_KEYS)[number];
export type Utm = Partial<Record<UtmKey, string | null>>;

/** Routing as the API accepts it (validated by the control plane before compiling). */
export interface RoutingInput {
  rules?: RuleInput[];
  /** Seed shorthand: `[{country: "SG", url}]` → a country rule each. */
  geo?: { country: string | string[]; url: string }[];
  /** Seed shorthand: `[{os: "iOS", url}]` or `[{device: "mobile", url}]` → one rule each. */
  device?: { os?: string | string[]; device?: string | string[]; url: string }[];
  /** Default weighted split. */
  ab?: VariantInput[];
}

export interface VariantInput {
  id?: string;
  url: string;
  weight: number;
}

export interface RuleInput {
  id?: string;
  when: {
    country?: string[];
    os?: string[];
    device?: string[];
    language?: string[];
    ip?: string[];
    query?: Record<string, string>;
    time?: { from?: string | null; to?: string | null; days?: number[]; hours?: [number, number]; timezone?: string };
  };
  url?: string;
  variants?: VariantInput[];
}

export interface LinkSource {
  id: string;
  workspaceId: string;
  version: number;
  domain: string;
  path: string;
  destinationUrl: string;
  utm: Utm | null;
  routing: RoutingInput | null;
  redirectStatus: RedirectStatus | null;
  forwardQuery: boolean;
  disabled: boolean;
  expiresAt: Date | string | null;
  status: 'live' | 'pending';
}

export interface DomainSettings {
  hostname: string;
  workspaceId: string;
  utmTemplate: Utm | null;
  defaultRedirectStatus: RedirectStatus | null;
  notFoundUrl: string | null;
  expiredUrl: string | null;
  version: number;
}

/** The domain's template overlaid with the link's own values; null/empty values are dropped. */
export function effectiveUtm(template: Utm | null, own: Utm | null): Record<string, string> | null {
  const out: Record<string, string> = {};
  for (const k of UTM_KEYS) {
    const v = own?.[k] !== undefined ? own[k] : template?.[k];
    if (typeof v === 'string' && v.length > 0) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** A query component's decoded form (`+` is a space); the raw text when its percent-encoding is broken. */
function decodeQueryKey(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * `url` with the utm_* pairs appended. The destination's query is kept byte for byte (no
 * re-serialization: `~`, `,`, `/`, `%20` and a bare `flag` stay as written, so destinations that
 * sign or compare their raw query still match) and the fragment stays at the end. A key the
 * destination already has keeps its value when the value comes from the domain's `template`; a
 * value the link sets itself (`own`) replaces it in place (later duplicates of that key are dropped).
 * A link value of null clears the template's value. Runs when a rule is compiled, not per redirect.
 */
export function mergeUtm(url: string, template: Utm | null, own: Utm | null): string {
  const wanted: { key: string; value: string; replaces: boolean }[] = [];
  for (const k of UTM_KEYS) {
    const mine = own?.[k];
    const value = mine !== undefined ? mine : template?.[k];
    if (typeof value === 'string' && value.length > 0) wanted.push({ key: `utm_${k}`, value, replaces: mine !== undefined });
  }
  if (wanted.length === 0) return url;
  const hashAt = url.indexOf('#');
  const fragment = hashAt < 0 ? '' : url.slice(hashAt);
  let head = hashAt < 0 ? url : url.slice(0, hashAt);
  const qAt = head.indexOf('?');
  const present = new Set<string>();
  if (qAt >= 0) {
    const replaced = new Set<string>();
    const pairs: string[] = [];
    let changed = false;
    for (const pair of head.slice(qAt + 1).split('&')) {
      const eq = pair.indexOf('=');
      const key = decodeQueryKey(eq < 0 ? pair : pair.slice(0, eq));
      const mine = wanted.find((w) => w.key === key);
      if (mine === undefined) pairs.push(pair);
      else if (!mine.replaces) {
        present.add(key);
        pairs.push(pair);
      } else {
        changed = true;
        present.add(key);
        if (!replaced.has(key)) pairs.push(`${key}=${encodeURIComponent(mine.value)}`);
        replaced.add(key);
      }
    }
    if (changed) head = `${head.slice(0, qAt + 1)}${pairs.join('&')}`;
  }
  let added = '';
  for (const w of wanted) if (!present.has(w.key)) added += `${added ? '&' : ''}${w.key}=${encodeURIComponent(w.value)}`;
  if (added.length === 0) return head + fragment;
  const sep = qAt < 0 ? '?' : head.endsWith('?') || head.endsWith('&') ? '' : '&';
  return `${head}${sep}${added}${fragment}`;
}

const OS_ALIASES: Record<string, OsName> = {
  ios: 'ios', iphone: 'ios', ipados: 'ios',
  android: 'android',
  windows: 'windows',
  macos: 'macos', 'mac os': 'macos', osx: 'macos', 'os x': 'macos',
  linux: 'linux',
  chromeos: 'chromeos', 'chrome os': 'chromeos',
};

export function canonicalOs(name: string): OsName | null {
  return OS_ALIASES[name.trim().toLowerCase()] ?? null;
}

export function canonicalDevice(name: string): DeviceClass | null {
  const d = name.trim().toLowerCase();
  return d === 'mobile' || d === 'tablet' || d === 'desktop' || d === 'bot' ? d : null;
}

function toArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

interface UtmSources {
  template: Utm | null;
  own: Utm | null;
}

function compileVariants(input: VariantInput[], utm: UtmSources): Variant[] {
  let cumulative = 0;
  return input
    .filter((v) => v.weight > 0)
    .map((v, i) => {
      cumulative += v.weight;
      return { id: v.id ?? String.fromCharCode(97 + (i % 26)) + (i >= 26 ? String(i) : ''), url: mergeUtm(v.url, utm.template, utm.own), weight: v.weight, cumulative };
    });
}

function compileConditions(when: RuleInput['when']): Condition[] {
  const out: Condition[] = [];
  if (when.country?.length) out.push({ type: 'country', in: when.country.map((c) => c.toUpperCase()) });
  if (when.os?.length) out.push({ type: 'os', in: when.os.map((o) => canonicalOs(o)).filter((o): o is OsName => o !== null) });
  if (when.device?.length) out.push({ type: 'device', in: when.device.map((d) => canonicalDevice(d)).filter((d): d is DeviceClass => d !== null) });
  if (when.language?.length) out.push({ type: 'language', in: when.language.map((l) => l.toLowerCase()) });
  if (when.ip?.length) out.push({ type: 'ip', cidrs: [...when.ip] });
  for (const [key, value] of Object.entries(when.query ?? {})) out.push({ type: 'query', key, value });
  if (when.time) {
    const t = when.time;
    out.push({
      type: 'time',
      from: t.from ? Date.parse(t.from) : null,
      to: t.to ? Date.parse(t.to) : null,
      days: t.days?.length ? [...t.days].sort((a, b) => a - b) : null,
      hours: t.hours ? [t.hours[0], t.hours[1]] : null,
      timezone: t.timezone ?? 'UTC',
    });
  }
  return out;
}

/** Expands the seed shorthands (geo, device) after the explicit rules, in that order. */
export function routingRules(routing: RoutingInput | null): RuleInput[] {
  if (!routing) return [];
  const rules: RuleInput[] = [...(routing.rules ?? [])];
  for (const g of routing.geo ?? []) rules.push({ when: { country: toArray(g.country) }, url: g.url });
  for (const d of routing.device ?? []) {
    rules.push({ when: { ...(d.os ? { os: toArray(d.os) } : {}), ...(d.device ? { device: toArray(d.device) } : {}) }, url: d.url });
  }
  return rules;
}

function needsOf(rules: CompiledRule[], ab: Variant[] | null): Needs {
  const needs: Needs = { country: false, userAgent: false, language: false, ip: false, query: false, visitor: ab !== null };
  for (const r of rules) {
    if (r.variants) needs.visitor = true;
    for (const c of r.when) {
      if (c.type === 'country') needs.country = true;
      else if (c.type === 'os' || c.type === 'device') needs.userAgent = true;
      else if (c.type === 'language') needs.language = true;
      else if (c.type === 'ip') needs.ip = true;
      else if (c.type === 'query') needs.query = true;
    }
  }
  return needs;
}

function epochMs(v: Date | string | null): number | null {
  if (v === null) return null;
  return typeof v === 'string' ? Date.parse(v) : v.getTime();
}

export function compileLink(link: LinkSource, domain: DomainSettings): CompiledLink {
  const utm = effectiveUtm(domain.utmTemplate, link.utm);
  const sources: UtmSources = { template: domain.utmTemplate, own: link.utm };
  const rules: CompiledRule[] = routingRules(link.routing).map((r, i) => ({
    id: r.id ?? `r${i + 1}`,
    when: compileConditions(r.when),
    url: r.url !== undefined ? mergeUtm(r.url, sources.template, sources.own) : null,
    variants: r.variants ? compileVariants(r.variants, sources) : null,
  }));
  const abInput = link.routing?.ab;
  const ab = abInput && abInput.length > 0 ? compileVariants(abInput, sources) : null;
  return {
    format: RULE_FORMAT,
    kind: 'link',
    linkId: link.id,
    workspaceId: link.workspaceId,
    version: link.version,
    domain: link.domain,
    path: link.path,
    destination: mergeUtm(link.destinationUrl, sources.template, sources.own),
    redirectStatus: link.redirectStatus ?? domain.defaultRedirectStatus ?? 302,
    forwardQuery: link.forwardQuery,
    disabled: link.disabled,
    expiresAt: epochMs(link.expiresAt),
    status: link.status,
    rules,
    ab: ab && ab.length > 0 ? ab : null,
    needs: needsOf(rules, ab && ab.length > 0 ? ab : null),
    utm,
  };
}

export function compileDomain(domain: DomainSettings): CompiledDomain {
  return {
    format: RULE_FORMAT,
    kind: 'domain',
    hostname: domain.hostname,
    workspaceId: domain.workspaceId,
    notFoundUrl: domain.notFoundUrl,
    expiredUrl: domain.expiredUrl,
    version: domain.version,
  };
}
