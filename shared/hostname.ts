/** Hostnames of branded domains: lower-case, IDNA (punycode) form, no port, no trailing dot. */

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Returns the canonical hostname, or null if `raw` is not a valid DNS name with at least two labels. */
export function normalizeHostname(raw: string): string | null {
  const input = raw.trim();
  // a bare host: no scheme, port, path, credentials or brackets
  if (input.length === 0 || /[\s/:@?#[\]\\%]/.test(input)) return null;
  let host: string;
  try {
    host = new URL(`http://${input}`).hostname; // lower-cases and converts IDN to punycode
  } catch {
    return null;
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length > 253) return null;
  const labels = host.split('.');
  if (labels.length < 2) return null;
  if (!labels.every((l) => LABEL.test(l))) return null;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return null; // an IP address, not a domain
  return host;
}

/**
 * The node's view of a Host header: lower-cased, port stripped. Hot path: no URL parsing.
 * Returns '' for an empty/absent header.
 */
export function requestHost(hostHeader: string): string {
  // one pass from the end: the port's colon (not inside an IPv6 literal) and any upper-case letter.
  // String.prototype.lastIndexOf is a call into V8's runtime, not an inlined builtin: this loop is cheaper
  const n = hostHeader.length;
  let end = n;
  let upper = false;
  const bracketed = hostHeader.charCodeAt(0) === 91; /* [ */
  for (let i = n - 1; i >= 0; i--) {
    const c = hostHeader.charCodeAt(i);
    if (c === 58 /* : */ && end === n && !bracketed) end = i;
    else if (c >= 65 && c <= 90 && i < end) upper = true;
  }
  let host = end === n ? hostHeader : hostHeader.slice(0, end);
  if (host.charCodeAt(host.length - 1) === 46 /* . */) host = host.slice(0, -1);
  return upper ? host.toLowerCase() : host;
}
