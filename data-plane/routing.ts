/**
 * A link's rules, prepared once per version for the hot path: conditions become small predicate
 * closures (sets, parsed CIDRs), URLs are checked once, each split gets a seed so links split
 * independently. Anything this build does not understand (a new condition type, an unsafe URL)
 * makes the rule never match rather than redirect somewhere unexpected.
 */
import type { CompiledLink, Condition, DeviceClass, Needs, OsName, Variant } from '../shared/index.js';
import { anyCidrContains, parseCidr, type Cidr, type Ip } from './ip.js';
import { languageMatches } from './language.js';
import { queryHas } from './query.js';
import { timeWindowMatches } from './time-window.js';
import { hash32 } from './visitor.js';

/** Facts about one request, computed only as far as the link's `needs` ask. */
export interface RequestFacts {
  /** Raw query string without `?` ('' when none). */
  query: string;
  ip: Ip | null;
  country: string | null;
  os: OsName | null;
  device: DeviceClass | null;
  language: string | null;
  /** Sticky visitor hash (client IP + user agent). */
  visitor: number;
}

export type Predicate = (facts: RequestFacts, now: number) => boolean;

export interface PreparedRule {
  id: string;
  matches: Predicate;
  url: string | null;
  variants: readonly Variant[] | null;
  seed: number;
}

export interface Routing {
  rules: readonly PreparedRule[];
  ab: readonly Variant[] | null;
  abSeed: number;
  needs: Needs;
}

/** A Location we are willing to send: absolute http(s), printable ASCII only (no header injection). */
export function isSafeLocation(url: unknown): url is string {
  if (typeof url !== 'string' || url.length > 8192) return false;
  if (!url.startsWith('https://') && !url.startsWith('http://')) return false;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

const never: Predicate = () => false;

function condition(c: Condition): Predicate {
  switch (c.type) {
    case 'country': {
      const set = new Set(c.in);
      return (f) => f.country !== null && set.has(f.country);
    }
    case 'os': {
      const set = new Set<string>(c.in);
      return (f) => f.os !== null && set.has(f.os);
    }
    case 'device': {
      const set = new Set<string>(c.in);
      return (f) => f.device !== null && set.has(f.device);
    }
    case 'language': {
      const wanted = c.in.map((l) => l.toLowerCase());
      return (f) => f.language !== null && languageMatches(f.language, wanted);
    }
    case 'ip': {
      const cidrs = c.cidrs.map(parseCidr).filter((x): x is Cidr => x !== null);
      return (f) => f.ip !== null && anyCidrContains(cidrs, f.ip);
    }
    case 'query': {
      const { key, value } = c;
      return (f) => f.query.length > 0 && queryHas(f.query, key, value);
    }
    case 'time':
      return (_f, now) => timeWindowMatches(c, now);
    default:
      return never;
  }
}

function allOf(preds: Predicate[]): Predicate {
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0]!;
  return (f, now) => {
    for (const p of preds) if (!p(f, now)) return false;
    return true;
  };
}

function safeVariants(variants: readonly Variant[] | null): readonly Variant[] | null {
  if (!variants || variants.length === 0) return null;
  return variants.every((v) => isSafeLocation(v.url) && Number.isFinite(v.cumulative)) ? variants : null;
}

/** null when the link has neither rules nor a split (the common case: the destination, always). */
export function prepareRouting(link: CompiledLink): Routing | null {
  const rules = Array.isArray(link.rules) ? link.rules : [];
  const ab = safeVariants(link.ab);
  if (rules.length === 0 && !ab) return null;
  const prepared: PreparedRule[] = rules.map((r) => {
    const url = isSafeLocation(r.url) ? r.url : null;
    const variants = safeVariants(r.variants);
    const usable = url !== null || variants !== null;
    return {
      id: r.id,
      matches: usable && Array.isArray(r.when) ? allOf(r.when.map(condition)) : never,
      url,
      variants,
      seed: hash32(`${link.linkId}:${r.id}`),
    };
  });
  return { rules: prepared, ab, abSeed: hash32(`${link.linkId}:ab`), needs: link.needs };
}
