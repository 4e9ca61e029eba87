/**
 * The bucket key of a client address: an IPv4 address as is (IPv4-mapped IPv6 included), an IPv6
 * address by its /64 (one subscriber usually holds a whole /64, so per-address buckets would be free).
 */
import { isIPv4, isIPv6 } from 'node:net';

export function clientBucketKey(ip: string): string {
  const addr = ip.split('%')[0]!; // drop an IPv6 zone id
  if (isIPv4(addr)) return addr;
  if (!isIPv6(addr)) return addr;
  const lower = addr.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  return `${expandIPv6(lower).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, without leading zeros. */
function expandIPv6(addr: string): string[] {
  const [head, tail] = addr.includes('::') ? addr.split('::') as [string, string] : [addr, null];
  const groups = (s: string) => (s ? s.split(':') : []);
  const toHex = (g: string[]) => g.flatMap((x) => {
    if (!isIPv4(x)) return [x];
    const [a, b, c, d] = x.split('.').map(Number) as [number, number, number, number];
    return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  });
  const h = toHex(groups(head));
  const t = tail === null ? [] : toHex(groups(tail));
  const zeros = tail === null ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16).toString(16));
}
