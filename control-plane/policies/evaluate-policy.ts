/**
 * Policy evaluation, pure: a link's values (and its domain's UTM template) against the rules →
 * the violations, each naming its rule and the field (`routing.rules[0].url` for a routing target).
 * Used by the link writer for every write and by POST /v1/policy/check.
 */
import { effectiveUtm, normalizeHostname, type RoutingInput, type Utm } from '../../shared/index.js';
import { bannedWordIn } from './confusables.js';
import type { PolicyRules, Violation } from './policy-schema.js';

/** What a link's values give the rules (a subset of LinkValues). */
export interface PolicySubject {
  path: string;
  destination_url: string;
  utm: Utm | null;
  routing: RoutingInput | null;
  expires_at: Date | string | null;
}

const DAY_MS = 86_400_000;

/** Every URL a link can send a visitor to, with the field that holds it. */
export function destinations(s: Pick<PolicySubject, 'destination_url' | 'routing'>): { field: string; url: string }[] {
  const out = [{ field: 'destination_url', url: s.destination_url }];
  const r = s.routing;
  if (!r) return out;
  r.rules?.forEach((rule, i) => {
    if (rule.url !== undefined) out.push({ field: `routing.rules[${i}].url`, url: rule.url });
    rule.variants?.forEach((v, j) => out.push({ field: `routing.rules[${i}].variants[${j}].url`, url: v.url }));
  });
  r.geo?.forEach((g, i) => out.push({ field: `routing.geo[${i}].url`, url: g.url }));
  r.device?.forEach((d, i) => out.push({ field: `routing.device[${i}].url`, url: d.url }));
  r.ab?.forEach((v, i) => out.push({ field: `routing.ab[${i}].url`, url: v.url }));
  return out;
}

/** `shop.example.com` matches itself only; `*.example.com` matches every subdomain of example.com, not example.com. */
export function hostMatches(host: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) {
    const base = normalizeHostname(pattern.slice(2)) ?? pattern.slice(2).toLowerCase();
    return host.endsWith(`.${base}`);
  }
  return host === (normalizeHostname(pattern) ?? pattern.toLowerCase());
}

function hostOf(url: string): string | null {
  try {
    const h = new URL(url).hostname;
    return h.endsWith('.') ? h.slice(0, -1) : h;
  } catch {
    return null;
  }
}

/** UTM keys the link carries: the domain template merged with its own, and `utm_*` already in the destination's query. */
function utmKeys(s: PolicySubject, template: Utm | null): Set<string> {
  const keys = new Set(Object.keys(effectiveUtm(template, s.utm) ?? {}));
  try {
    for (const [k, v] of new URL(s.destination_url).searchParams) if (k.startsWith('utm_') && v !== '') keys.add(k.slice(4));
  } catch {
    // a URL the writer already validated; nothing to add
  }
  return keys;
}

export function evaluatePolicy(s: PolicySubject, rules: PolicyRules, utmTemplate: Utm | null, now = Date.now()): Violation[] {
  const out: Violation[] = [];
  const targets = rules.https_only || rules.destination_hosts_allow.length > 0 || rules.destination_hosts_deny.length > 0 ? destinations(s) : [];
  if (rules.https_only) {
    for (const t of targets) {
      if (!t.url.toLowerCase().startsWith('https:')) out.push({ rule: 'https_only', field: t.field, message: `${t.field} must be an https URL` });
    }
  }
  for (const t of targets) {
    const host = hostOf(t.url);
    if (host === null) continue;
    const denied = rules.destination_hosts_deny.find((p) => hostMatches(host, p));
    if (denied !== undefined) {
      out.push({ rule: 'destination_hosts_deny', field: t.field, host, pattern: denied, message: `${t.field}: host ${host} is denied (${denied})` });
    } else if (rules.destination_hosts_allow.length > 0 && !rules.destination_hosts_allow.some((p) => hostMatches(host, p))) {
      out.push({ rule: 'destination_hosts_allow', field: t.field, host, message: `${t.field}: host ${host} is not in the allowed hosts` });
    }
  }
  const word = bannedWordIn(s.path, rules.banned_path_words);
  if (word !== null) out.push({ rule: 'banned_path_words', field: 'path', word, message: `path contains the banned word "${word}"` });
  if (rules.max_ttl_days !== null) {
    const exp = s.expires_at === null ? null : new Date(s.expires_at).getTime();
    if (exp === null) {
      out.push({ rule: 'max_ttl_days', field: 'expires_at', max_ttl_days: rules.max_ttl_days, message: `expires_at is required: links must expire within ${rules.max_ttl_days} days` });
    } else if (exp > now + rules.max_ttl_days * DAY_MS) {
      out.push({ rule: 'max_ttl_days', field: 'expires_at', max_ttl_days: rules.max_ttl_days, message: `expires_at must be within ${rules.max_ttl_days} days` });
    }
  }
  if (rules.required_utm.length > 0) {
    const have = utmKeys(s, utmTemplate);
    const missing = rules.required_utm.filter((k) => !have.has(k));
    if (missing.length > 0) out.push({ rule: 'required_utm', field: 'utm', missing, message: `utm must carry ${missing.join(', ')} (after the domain's template)` });
  }
  return out;
}
