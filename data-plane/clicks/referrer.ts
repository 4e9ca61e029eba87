/**
 * The host of a Referer header, and nothing else: no path, no query (they can carry personal
 * data). Lower case, no userinfo, no port; null when the header is absent or not an absolute URL.
 */

const HOST = /^(?:[a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$|^\[[0-9a-f:.]{2,45}\]$/;

export function referrerHost(header: string): string | null {
  if (header.length === 0 || header.length > 8192) return null;
  const sep = header.indexOf('://');
  if (sep <= 0 || sep > 32) return null;
  let start = sep + 3;
  let end = header.length;
  for (let i = start; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35 || c === 92) {
      // / ? # and \ (browsers treat it as /)
      end = i;
      break;
    }
  }
  let authority = header.slice(start, end);
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  start = 0;
  let host: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return null;
    host = authority.slice(0, close + 1);
  } else {
    const colon = authority.indexOf(':');
    host = colon >= 0 ? authority.slice(0, colon) : authority;
  }
  host = host.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253 || !HOST.test(host)) return null;
  return host;
}
