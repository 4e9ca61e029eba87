/**
 * Destination and callback URL safety: absolute http(s) only, no credentials, no control
 * characters, no literal private/loopback/link-local addresses in any spelling
 * (WHATWG URL parsing canonicalizes `http://2130706433/`, `0x7f.1`, octal and IPv6 forms).
 */
import ipaddr from 'ipaddr.js';

export type UrlProblem =
  | 'invalid_url'
  | 'scheme_not_allowed'
  | 'credentials_not_allowed'
  | 'control_character'
  | 'private_address'
  | 'too_long';

export const URL_MAX_LENGTH = 4096;

export type UrlCheck = { ok: true; url: string } | { ok: false; problem: UrlProblem; message: string };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

const PUBLIC_RANGES = new Set(['unicast']);

/** True when `ip` (v4 or v6, any canonical spelling) is a public unicast address. */
export function isPublicAddress(ip: string): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip.startsWith('[') ? ip.slice(1, -1) : ip);
  } catch {
    return false;
  }
  if (addr.kind() === 'ipv6') {
    const v6 = addr as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return isPublicAddress(v6.toIPv4Address().toString());
    // NAT64 / 6to4 / Teredo embed IPv4 that could be private: reject conservatively except plain unicast
  }
  return PUBLIC_RANGES.has(addr.range());
}

function isIpLiteral(hostname: string): boolean {
  // A WHATWG-parsed host is an IP literal only as dotted-decimal IPv4 (every IPv4 spelling is
  // canonicalized to it) or bracketed IPv6: skip ipaddr.js (~45 µs a call) for every other name.
  if (!hostname.includes(':') && !/^[\d.]+$/.test(hostname)) return false;
  const h = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(h) && (h.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(h));
}

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/;

export interface UrlPolicy {
  /** Allow private/loopback literals (development, tests). */
  allowPrivate?: boolean;
  /** Allowed schemes, default http and https. */
  protocols?: readonly string[];
}

export function checkUrl(raw: string, policy: UrlPolicy = {}): UrlCheck {
  const fail = (problem: UrlProblem, message: string): UrlCheck => ({ ok: false, problem, message });
  if (raw.length > URL_MAX_LENGTH) return fail('too_long', `URL must be at most ${URL_MAX_LENGTH} characters`);
  if (CONTROL.test(raw)) return fail('control_character', 'URL must not contain control characters');
  if (raw.trim() !== raw) return fail('invalid_url', 'URL must not have leading or trailing whitespace');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail('invalid_url', 'must be an absolute URL');
  }
  const protocols = policy.protocols ?? ['http', 'https'];
  const scheme = u.protocol.slice(0, -1);
  if (!protocols.includes(scheme)) return fail('scheme_not_allowed', `URL scheme must be ${protocols.join(' or ')}`);
  if (u.username || u.password) return fail('credentials_not_allowed', 'URL must not contain credentials');
  if (!u.hostname) return fail('invalid_url', 'URL must have a host');
  if (!policy.allowPrivate) {
    if (isIpLiteral(u.hostname) && !isPublicAddress(u.hostname)) {
      return fail('private_address', 'URL must not point to a private, loopback or link-local address');
    }
    if (LOCAL_NAMES.test(u.hostname.replace(/\.$/, ''))) {
      return fail('private_address', 'URL must not point to a local hostname');
    }
  }
  return { ok: true, url: u.href };
}
