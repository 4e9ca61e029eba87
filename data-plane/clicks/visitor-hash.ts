/**
 * The visitor hash of a click: HMAC-SHA256 under the day's salt of the client IP truncated to its
 * /24 (IPv4) or /48 (IPv6) network plus the user agent, first 16 bytes. The raw IP and the full
 * user agent go into the HMAC and nowhere else; salts rotate daily and old ones are deleted
 * (visitor-salts.ts), so a hash cannot be linked across days or reversed by brute force later.
 */
import { createHmac } from 'node:crypto';
import { BoundedCache } from '../bounded-cache.js';
import type { Ip } from '../ip.js';

/** `203.0.113.0/24`, `2001:db8:1234::/48`; '' when the address is unknown. */
export function truncatedIp(ip: Ip | null): string {
  if (ip === null) return '';
  if (!ip.v6) {
    const w = ip.w[0];
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.0/24`;
  }
  const a = ip.w[0];
  const b = ip.w[1];
  return `${(a >>> 16).toString(16)}:${(a & 0xffff).toString(16)}:${(b >>> 16).toString(16)}::/48`;
}

/**
 * The same network as a number, for cache keys (no string built per click): the /24 of an IPv4
 * address below 2^24, the /48 of an IPv6 address at 2^24 and above (48 bits: exact in a double),
 * -1 when the address is unknown.
 */
export function networkKey(ip: Ip | null): number {
  if (ip === null) return -1;
  if (!ip.v6) return ip.w[0] >>> 8;
  return 0x100_0000 + ip.w[0] * 0x1_0000 + (ip.w[1] >>> 16);
}

export const VISITOR_HASH_BYTES = 16;

/** HMAC-SHA256(salt, truncated IP + "\n" + user agent), first 16 bytes. */
export function visitorHash(salt: Uint8Array, ip: Ip | null, userAgent: string): Buffer {
  return createHmac('sha256', salt).update(truncatedIp(ip)).update('\n').update(userAgent).digest().subarray(0, VISITOR_HASH_BYTES);
}

/** Where a worker finds the salt of a UTC day (epoch days); undefined when it has none. */
export type SaltSource = (day: number) => Uint8Array | undefined;

/**
 * Hashes with a small cache: the same visitor (network + agent) clicking again the same day costs
 * two map lookups — by agent (the request's own string, whose hash V8 has already computed for
 * the device cache), then by network (a number: `networkKey`) — and no string building. The cache
 * holds hashes only; it is emptied when the day changes.
 */
export class VisitorHasher {
  private cache: BoundedCache<string, Map<number, Buffer>>;
  private day = -1;

  constructor(private readonly salts: SaltSource, private readonly cacheSize = 20_000) {
    this.cache = new BoundedCache(cacheSize);
  }

  /** The hash for a click on `day`, or null when this worker has no salt for that day yet. */
  hash(day: number, ip: Ip | null, userAgent: string): Buffer | null {
    if (day !== this.day) {
      this.day = day;
      this.cache = new BoundedCache(this.cacheSize);
    }
    const salt = this.salts(day);
    if (!salt) return null;
    const ua = userAgent.length > 1024 ? userAgent.slice(0, 1024) : userAgent;
    let byNet = this.cache.get(ua);
    if (byNet === undefined) this.cache.set(ua, (byNet = new Map()));
    const net = networkKey(ip);
    let h = byNet.get(net);
    if (h === undefined) {
      h = createHmac('sha256', salt).update(`${truncatedIp(ip)}\n${ua}`).digest().subarray(0, VISITOR_HASH_BYTES);
      if (byNet.size >= 64) byNet.clear();
      byNet.set(net, h);
    }
    return h;
  }
}
