/**
 * Gathers the request facts a link's rules need (its `needs` flags), and nothing more: a plain
 * link costs no header reads, no IP parsing, no geo lookup and no user-agent parsing.
 */
import type { Needs } from '../shared/index.js';
import { clientIp } from './client-ip.js';
import type { DeviceDetector } from './device.js';
import type { Geo } from './geo.js';
import type { Cidr, Ip } from './ip.js';
import { preferredLanguage } from './language.js';
import type { RequestFacts } from './routing.js';
import { visitorHash } from './visitor.js';

/** The parts of uWS's HttpRequest we read (tests pass a plain object). */
export interface HeaderSource {
  getHeader(lowerCaseKey: string): string;
}

export interface FactDeps {
  geo: Geo;
  device: DeviceDetector;
  trustedProxies: readonly Cidr[];
}

/** Facts for a link without rules: only the query (for forward_query and the QR flag). */
export function plainFacts(query: string): RequestFacts {
  return { query, ip: null, country: null, os: null, device: null, language: null, visitor: 0 };
}

export function requestIp(req: HeaderSource, peer: Ip | null, deps: FactDeps): Ip | null {
  return clientIp(peer, deps.trustedProxies.length > 0 ? req.getHeader('x-forwarded-for') : '', deps.trustedProxies);
}

/** `peer` (the TCP peer's address) is called only when a condition needs the client IP (reading it from uWS is not free). */
export function gatherFacts(req: HeaderSource, peer: () => Ip | null, query: string, needs: Needs, deps: FactDeps): RequestFacts {
  const facts = plainFacts(query);
  const wantIp = needs.ip || needs.country || needs.visitor;
  const ip = wantIp ? requestIp(req, peer(), deps) : null;
  facts.ip = ip;
  if (needs.country && ip !== null) facts.country = deps.geo.country(ip);
  const ua = needs.userAgent || needs.visitor ? req.getHeader('user-agent') : '';
  if (needs.userAgent) {
    const d = deps.device(ua);
    facts.os = d.os;
    facts.device = d.device;
  }
  if (needs.language) facts.language = preferredLanguage(req.getHeader('accept-language'));
  if (needs.visitor) facts.visitor = visitorHash(ip?.text ?? '', ua);
  return facts;
}
