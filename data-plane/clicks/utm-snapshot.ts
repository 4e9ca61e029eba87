/**
 * The UTM snapshot of a click: the utm_* parameters of the destination actually redirected to
 * (the compiled destination has the link's and the domain's UTM merged in, and an A/B variant may
 * carry its own), as the JSON object click events carry: {"source": "...", "medium": "..."}.
 */

const KEYS = ['source', 'medium', 'campaign', 'term', 'content'] as const;

function decode(v: string): string {
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    return v;
  }
}

/** JSON text of the UTM parameters in `url`, or null when it has none. */
export function utmSnapshot(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0 || url.indexOf('utm_', q) < 0) return null;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? url.length : hash);
  const out: Record<string, string> = {};
  let found = false;
  for (const part of query.split('&')) {
    if (!part.startsWith('utm_')) continue;
    const eq = part.indexOf('=');
    const key = part.slice(4, eq < 0 ? part.length : eq);
    if (!(KEYS as readonly string[]).includes(key) || key in out) continue;
    // eslint-disable-next-line no-control-regex
    const value = decode(eq < 0 ? '' : part.slice(eq + 1)).replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 200);
    out[key] = value;
    found = true;
  }
  return found ? JSON.stringify(out) : null;
}
