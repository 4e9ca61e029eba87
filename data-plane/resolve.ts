/**
 * The redirect decision, pure: (stored link + domain, request facts, now) → what to answer and
 * the click facts to capture. No I/O, no clock, no globals: the uWS handler gathers the facts and
 * writes the answer (respond.ts).
 */
import type { RedirectStatus, Variant } from '../shared/index.js';
import type { DomainRecord, LinkRecord } from './link-record.js';
import { hasQrFlag, mergeQuery } from './query.js';
import type { RequestFacts, Routing } from './routing.js';
import { pickVariant } from './visitor.js';

/** The facts a click event is built from (issue 4 turns these into ClickEvents). */
export interface ClickFacts {
  linkId: string;
  workspaceId: string;
  domain: string;
  path: string;
  /** The Location actually sent. */
  destination: string;
  ruleId: string | null;
  variantId: string | null;
  country: string | null;
  os: string | null;
  device: string | null;
  qr: boolean;
  at: number;
}

export type Decision =
  | { kind: 'redirect'; status: RedirectStatus; location: string; cacheControl: string; click: ClickFacts }
  /** Unknown path (or a pending link) on a known domain, or an unknown host (`hostname` null). */
  | { kind: 'not_found'; status: 404; hostname: string | null; fallbackUrl: string | null }
  | { kind: 'gone'; status: 410; hostname: string; reason: 'expired' | 'disabled'; fallbackUrl: string | null };

export interface Target {
  /** Host as the node sees it (lower case, no port). */
  host: string;
  /** Normalized link path, or null when the URL cannot name a link. */
  path: string | null;
  link: LinkRecord | null;
  domain: DomainRecord | null;
}

/** Browsers may keep a temporary redirect this long: edits take effect soon, repeat clicks are counted. */
export const TEMPORARY_MAX_AGE = 30;
/** Permanent redirects may be kept longer (never past the link's expiry). */
export const PERMANENT_MAX_AGE = 3600;

/** The Cache-Control of links without expiry (respond.ts keeps their bytes). */
export const TEMPORARY_CACHE = `private, max-age=${TEMPORARY_MAX_AGE}`;
export const PERMANENT_SHARED_CACHE = `public, max-age=${PERMANENT_MAX_AGE}`;
export const PERMANENT_PRIVATE_CACHE = `private, max-age=${PERMANENT_MAX_AGE}`;

function cacheControl(link: LinkRecord, now: number): string {
  const permanent = link.redirectStatus === 301 || link.redirectStatus === 308;
  // an answer that depends on the visitor (rules, split) must not be shared by caches
  const shared = permanent && link.routing === null;
  if (link.expiresAt === null) return permanent ? (shared ? PERMANENT_SHARED_CACHE : PERMANENT_PRIVATE_CACHE) : TEMPORARY_CACHE;
  const maxAge = Math.max(0, Math.min(permanent ? PERMANENT_MAX_AGE : TEMPORARY_MAX_AGE, Math.floor((link.expiresAt - now) / 1000)));
  return `${shared ? 'public' : 'private'}, max-age=${maxAge}`;
}

interface Choice {
  url: string;
  ruleId: string | null;
  variantId: string | null;
}

function choose(routing: Routing, facts: RequestFacts, now: number, fallback: string): Choice {
  let variants: readonly Variant[] | null = null;
  let seed = routing.abSeed;
  let ruleId: string | null = null;
  for (const rule of routing.rules) {
    if (!rule.matches(facts, now)) continue;
    if (rule.variants === null) return { url: rule.url!, ruleId: rule.id, variantId: null };
    variants = rule.variants;
    seed = rule.seed;
    ruleId = rule.id;
    break;
  }
  if (variants === null) variants = routing.ab;
  if (variants !== null) {
    const v = pickVariant(variants, facts.visitor, seed);
    if (v) return { url: v.url, ruleId, variantId: v.id };
  }
  return { url: fallback, ruleId, variantId: null };
}

export function resolve(target: Target, facts: RequestFacts, now: number): Decision {
  const { link, domain } = target;
  if (link === null || link.pending || target.path === null) {
    if (domain === null && link === null) return { kind: 'not_found', status: 404, hostname: null, fallbackUrl: null };
    return { kind: 'not_found', status: 404, hostname: target.host, fallbackUrl: domain?.notFoundUrl ?? null };
  }
  if (link.disabled || (link.expiresAt !== null && now >= link.expiresAt)) {
    return {
      kind: 'gone',
      status: 410,
      hostname: target.host,
      reason: link.disabled ? 'disabled' : 'expired',
      fallbackUrl: domain?.expiredUrl ?? null,
    };
  }
  const choice: Choice = link.routing === null
    ? { url: link.destination, ruleId: null, variantId: null }
    : choose(link.routing, facts, now, link.destination);
  const location = link.forwardQuery && facts.query.length > 0 ? mergeQuery(choice.url, facts.query) : choice.url;
  return {
    kind: 'redirect',
    status: link.redirectStatus,
    location,
    cacheControl: cacheControl(link, now),
    click: {
      linkId: link.linkId,
      workspaceId: link.workspaceId,
      domain: target.host,
      path: target.path,
      destination: location,
      ruleId: choice.ruleId,
      variantId: choice.variantId,
      country: facts.country,
      os: facts.os,
      device: facts.device,
      qr: facts.query.length > 0 && hasQrFlag(facts.query),
      at: now,
    },
  };
}
