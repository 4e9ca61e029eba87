/**
 * TRUST_PROXY → Fastify's `trustProxy`: which X-Forwarded-For entries name the client.
 * - `false` (default): the TCP peer is the client; X-Forwarded-For is ignored.
 * - a hop count `N`: N proxies of ours stand in front; the client is the Nth address from the right.
 * - addresses/CIDRs, comma-separated: entries are skipped from the right while they are our proxies.
 * - `true`: the left-most entry, which the client writes itself — only behind a proxy that
 *   overwrites the header; kept for compatibility, prefer a hop count or the proxies' addresses.
 */
import ipaddr from 'ipaddr.js';

export type TrustProxy = boolean | number | string;

/** Parses TRUST_PROXY, or returns the problem. */
export function parseTrustProxy(raw: string): { value: TrustProxy } | { problem: string } {
  const s = raw.trim();
  if (s === 'false' || s === '0' || s === '') return { value: false };
  if (s === 'true') return { value: true };
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n <= 32 ? { value: n } : { problem: `TRUST_PROXY=${JSON.stringify(raw)}: a hop count is at most 32` };
  }
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const bad = parts.filter((p) => !(p.includes('/') ? isCidr(p) : ipaddr.isValid(p)));
  if (parts.length === 0 || bad.length > 0) {
    return { problem: `TRUST_PROXY=${JSON.stringify(raw)}: expected false, true, a hop count or comma-separated proxy addresses/CIDRs (bad: ${bad.join(', ') || 'empty'})` };
  }
  return { value: parts.join(',') };
}

function isCidr(s: string): boolean {
  try {
    ipaddr.parseCIDR(s);
    return true;
  } catch {
    return false;
  }
}
