/**
 * Client IPs and CIDRs as numbers, for rule conditions and TRUSTED_PROXIES. IPv4 is one uint32;
 * IPv6 is four uint32 words; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as IPv4.
 */
import ipaddr from 'ipaddr.js';

export interface Ip {
  readonly v6: boolean;
  /** IPv4: the address. IPv6: words 0..3. */
  readonly w: readonly [number, number, number, number];
  /** Canonical text (what a geo database is asked). */
  readonly text: string;
}

export interface Cidr {
  readonly v6: boolean;
  readonly net: readonly [number, number, number, number];
  readonly mask: readonly [number, number, number, number];
}

/** Dotted-quad IPv4 without allocation beyond the result; null if `s` is not exactly that. */
function parseV4(s: string): number | null {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return null;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return null; // leading zero: ambiguous (octal) spelling
      part = part * 10 + (c - 48);
      if (part > 255 || ++digits > 3) return null;
    } else {
      return null;
    }
  }
  if (dots !== 3 || digits === 0) return null;
  return value * 256 + part;
}

function v6Words(parts: number[]): [number, number, number, number] {
  const w: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) w[i] = (((parts[i * 2] ?? 0) << 16) | (parts[i * 2 + 1] ?? 0)) >>> 0;
  return w;
}

/** Parses a client address (`1.2.3.4`, `2001:db8::1`, `[2001:db8::1]`, `::ffff:1.2.3.4`); null if invalid. */
export function parseIp(raw: string): Ip | null {
  const s = raw.charCodeAt(0) === 91 /* [ */ && raw.charCodeAt(raw.length - 1) === 93 ? raw.slice(1, -1) : raw;
  const v4 = parseV4(s);
  if (v4 !== null) return { v6: false, w: [v4, 0, 0, 0], text: s };
  if (s.length > 45 || !s.includes(':') || !ipaddr.IPv6.isValid(s)) return null;
  const addr = ipaddr.IPv6.parse(s);
  if (addr.isIPv4MappedAddress()) {
    const text = addr.toIPv4Address().toString();
    return { v6: false, w: [parseV4(text)!, 0, 0, 0], text };
  }
  return { v6: true, w: v6Words(addr.parts), text: addr.toString() };
}

/**
 * An address from its raw bytes, as uWS's `getRemoteAddress()` gives them: 4 bytes (IPv4) or 16
 * (IPv6; an IPv4-mapped one counts as IPv4). Reading the bytes costs less than having uWS format
 * the text and parsing it back. Null for any other length.
 */
export function ipFromBytes(b: Uint8Array): Ip | null {
  if (b.length === 4) return v4FromBytes(b, 0);
  if (b.length !== 16) return null;
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = b[i] === 0;
  if (mapped) return v4FromBytes(b, 12);
  const parts: number[] = [];
  for (let i = 0; i < 16; i += 2) parts.push((b[i]! << 8) | b[i + 1]!);
  return { v6: true, w: v6Words(parts), text: new ipaddr.IPv6(parts).toString() };
}

function v4FromBytes(b: Uint8Array, at: number): Ip {
  const [x, y, z, t] = [b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!];
  return { v6: false, w: [((x << 24) | (y << 16) | (z << 8) | t) >>> 0, 0, 0, 0], text: `${x}.${y}.${z}.${t}` };
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare address (/32, /128); null if invalid. */
export function parseCidr(raw: string): Cidr | null {
  const s = raw.trim();
  const slash = s.indexOf('/');
  const ip = parseIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return null;
  const maxBits = ip.v6 ? 128 : 32;
  let bits = maxBits;
  if (slash >= 0) {
    const b = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return null;
    bits = Number(b);
    // an IPv4-mapped IPv6 CIDR (::ffff:10.0.0.0/104) is the IPv4 CIDR /(bits - 96)
    if (!ip.v6 && s.slice(0, slash).includes(':')) bits -= 96;
    if (bits < 0 || bits > maxBits) return null;
  }
  const mask: [number, number, number, number] = [0, 0, 0, 0];
  const words = ip.v6 ? 4 : 1;
  for (let i = 0; i < words; i++) {
    const take = Math.max(0, Math.min(32, bits - i * 32));
    mask[i] = take === 0 ? 0 : (0xffffffff << (32 - take)) >>> 0;
  }
  const net: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) net[i] = (ip.w[i]! & mask[i]!) >>> 0;
  return { v6: ip.v6, net, mask };
}

export function cidrContains(c: Cidr, ip: Ip): boolean {
  if (c.v6 !== ip.v6) return false;
  if (((ip.w[0] & c.mask[0]) >>> 0) !== c.net[0]) return false;
  if (!c.v6) return true;
  return ((ip.w[1] & c.mask[1]) >>> 0) === c.net[1] && ((ip.w[2] & c.mask[2]) >>> 0) === c.net[2] && ((ip.w[3] & c.mask[3]) >>> 0) === c.net[3];
}

export function anyCidrContains(cidrs: readonly Cidr[], ip: Ip): boolean {
  for (const c of cidrs) if (cidrContains(c, ip)) return true;
  return false;
}
