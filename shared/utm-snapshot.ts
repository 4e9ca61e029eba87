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

/** JSON text of the UTM parameters in `url`, or null when it has none. Runs once per click: jumps from
 * one `utm_` to the next instead of splitting the query, and decodes only what is encoded. */
export function utmSnapshot(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  let i = url.indexOf('utm_', q);
  if (i < 0) return null;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  let out: Record<string, string> | null = null;
  while (i >= 0 && i < end) {
    const before = url.charCodeAt(i - 1);
    if (before !== 38 /* & */ && before !== 63 /* ? */) {
      i = url.indexOf('utm_', i + 4);
      continue;
    }
    let stop = url.indexOf('&', i);
    if (stop < 0 || stop > end) stop = end;
    const eq = url.indexOf('=', i);
    const keyEnd = eq >= 0 && eq < stop ? eq : stop;
    const key = url.slice(i + 4, keyEnd);
    if ((KEYS as readonly string[]).includes(key) && !(out !== null && key in out)) {
      const raw = keyEnd < stop ? url.slice(keyEnd + 1, stop) : '';
      // eslint-disable-next-line no-control-regex
      const value = raw.includes('%') || raw.includes('+') ? decode(raw).replace(/[\u0000-\u001f\u007f]/g, '') : raw;
      (out ??= {})[key] = value.length > 200 ? value.slice(0, 200) : value;
    }
    i = url.indexOf('utm_', stop);
  }
  return out === null ? null : JSON.stringify(out);
}
