/**
 * What the click micro-benchmarks (bench/micro/click-ring.ts, click-collect.ts) share: a collector
 * set up as the node's (the packaged GeoLite2 database, a device cache, one salt, the loopback as a
 * trusted proxy) and the redirect bench's clicks (1 M links with UTM destinations), every string
 * freshly allocated as uWS and the store hand them out.
 */
import { ClickCollector } from '../../data-plane/clicks/click-collector.js';
import { defaultGeoipDb } from '../../data-plane/config.js';
import { createDeviceDetector } from '../../data-plane/device.js';
import { loadGeoDatabase, openGeo } from '../../data-plane/geo.js';
import { parseCidr } from '../../data-plane/ip.js';
import type { ClickFacts } from '../../data-plane/resolve.js';
import { createLogger } from '../../shared/index.js';

/** A copy of `s` in a new string (not the literal V8 interned). */
export const fresh = (s: string): string => Buffer.from(s, 'latin1').toString('latin1');

/** A collector as the node's main thread has it; `emit` gets each encoded batch. */
export function benchCollector(emit: (data: Uint8Array) => void): ClickCollector {
  const salt = new Uint8Array(32).fill(7);
  return new ClickCollector({
    nodeId: 'node-1', geo: openGeo(loadGeoDatabase(defaultGeoipDb())), device: createDeviceDetector(10_000), salts: () => salt,
    trustedProxies: [parseCidr('127.0.0.1/32')!], maxEvents: 1000, flushMs: 250, emit,
    log: createLogger({ name: 'micro', level: 'warn' }),
  });
}

/** The click of link `k` (0 ≤ k < 1 M), made now, with fresh strings. */
export function benchClick(k: number): ClickFacts {
  return {
    linkId: fresh(`lnk_01ABCDEFGHJKMNPQRS${k.toString().padStart(7, '0')}`), workspaceId: fresh('ws_01ABCDEFGHJKMNPQRSTVWXYZ00'), domain: fresh('go.bench.example'),
    path: fresh(`k${k}`), destination: fresh(`https://www.example.com/landing/${k}?utm_source=newsletter&utm_medium=email&utm_campaign=bench`),
    ruleId: null, variantId: null, country: null, os: null, device: null, qr: false, at: Date.now(),
  };
}
