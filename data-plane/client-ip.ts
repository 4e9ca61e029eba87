/**
 * The visitor's address: the TCP peer, unless the peer is a trusted proxy, in which case
 * `X-Forwarded-For` is read right to left and the first address that is not itself a trusted proxy
 * wins (addresses a client wrote on the left are never believed over a proxy's).
 */
import { anyCidrContains, parseIp, type Cidr, type Ip } from './ip.js';

function stripPort(s: string): string {
  // `1.2.3.4:5678` or `[2001:db8::1]:443`; a bare IPv6 keeps its colons
  if (s.charCodeAt(0) === 91) {
    const end = s.indexOf(']');
    return end > 0 ? s.slice(1, end) : s;
  }
  const colon = s.indexOf(':');
  return colon > 0 && colon === s.lastIndexOf(':') ? s.slice(0, colon) : s;
}

export function clientIp(peerIp: Ip | null, forwardedFor: string, trusted: readonly Cidr[]): Ip | null {
  // the cheap tests first: the click encoder calls this with the client already resolved and no header
  if (forwardedFor.length === 0 || trusted.length === 0 || !peerIp || !anyCidrContains(trusted, peerIp)) return peerIp;
  let candidate: Ip = peerIp;
  let end = forwardedFor.length;
  while (end > 0) {
    const comma = forwardedFor.lastIndexOf(',', end - 1);
    const hop = forwardedFor.slice(comma + 1, end).trim();
    end = comma < 0 ? 0 : comma;
    const ip = parseIp(stripPort(hop));
    if (!ip) break; // garbage: stop at the last address a trusted hop vouched for
    candidate = ip;
    if (!anyCidrContains(trusted, ip)) break;
  }
  return candidate;
}
