/**
 * Short-link paths: the one normalization both planes agree on.
 * Stored paths are NFC, case-sensitive, 1–200 characters, without a leading `/`.
 */

export const PATH_MAX_LENGTH = 200;
export const RESERVED_PATHS: ReadonlySet<string> = new Set(['healthz', 'readyz', 'metrics']);

export type PathProblem =
  | 'empty'
  | 'too_long'
  | 'control_character'
  | 'leading_slash'
  | 'trailing_slash'
  | 'empty_segment'
  | 'dot_segment'
  | 'reserved'
  | 'invalid_character'
  | 'invisible_character';

// C0/C1 controls, DEL, bidi overrides/isolates, zero-width chars, BOM, line/paragraph separators.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2060-\u2064\u2066-\u2069\ufeff]/u;
// Everything else that renders as nothing or changes how its neighbours render: soft hyphen, combining
// grapheme joiner, Hangul fillers, Mongolian vowel separator, variation selectors, tags, other format
// characters. `pay\u00adpal` looks like `paypal`: a look-alike link.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cf}]/u;
// Characters that would be ambiguous in a URL path we serve: query, fragment, percent, backslash, whitespace.
const AMBIGUOUS = /[?#%\\\s]/u;

export type PathResult = { ok: true; path: string } | { ok: false; problem: PathProblem; message: string };

/** Validates and NFC-normalizes a vanity path given to the API. */
export function normalizeLinkPath(raw: string): PathResult {
  const path = raw.normalize('NFC');
  const fail = (problem: PathProblem, message: string): PathResult => ({ ok: false, problem, message });
  if (path.length === 0) return fail('empty', 'path must not be empty');
  if (!path.isWellFormed()) return fail('invalid_character', 'path must be valid Unicode (no lone surrogates)');
  if ([...path].length > PATH_MAX_LENGTH) return fail('too_long', `path must be at most ${PATH_MAX_LENGTH} characters`);
  if (FORBIDDEN.test(path)) return fail('control_character', 'path must not contain control or invisible characters');
  if (INVISIBLE.test(path)) return fail('invisible_character', 'path must not contain invisible (default-ignorable or format) characters');
  if (AMBIGUOUS.test(path)) return fail('invalid_character', 'path must not contain whitespace, ?, #, % or \\');
  if (path.startsWith('/')) return fail('leading_slash', 'path must not start with /');
  if (path.endsWith('/')) return fail('trailing_slash', 'path must not end with /');
  if (path.includes('//')) return fail('empty_segment', 'path must not contain //');
  for (const seg of path.split('/')) {
    if (seg === '.' || seg === '..') return fail('dot_segment', 'path must not contain . or .. segments');
  }
  if (RESERVED_PATHS.has(path)) return fail('reserved', `path "${path}" is reserved`);
  return { ok: true, path };
}

/**
 * The node's view of a request URL (`/deal?x=1` → `deal`): strips the leading `/` and one trailing
 * `/`, percent-decodes, NFC-normalizes. Returns null when the URL cannot name a stored path
 * (bad percent-encoding, invalid UTF-8, dot segments), so the node answers 404.
 * ASCII paths without `%` take the fast path: no allocation beyond the slice.
 */
export function requestPathToLinkPath(urlPath: string): string | null {
  let p = urlPath.charCodeAt(0) === 47 /* / */ ? urlPath.slice(1) : urlPath;
  if (p.length > 1 && p.charCodeAt(p.length - 1) === 47) p = p.slice(0, -1);
  let ascii = true;
  let pct = false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 37) pct = true;
    else if (c > 126 || c < 32) ascii = false;
  }
  if (pct) {
    try {
      p = decodeURIComponent(p);
    } catch {
      return null;
    }
    ascii = false;
  }
  if (!ascii) {
    if (p.includes('\ufffd')) return null;
    p = p.normalize('NFC');
    if (FORBIDDEN.test(p) || INVISIBLE.test(p)) return null;
  }
  if (p.length === 0 || p.length > PATH_MAX_LENGTH * 4) return null;
  return p;
}

/** Generated paths: base62, unguessable (crypto random), retried by the caller on collision. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const GENERATED_PATH_LENGTH = 7;

export function randomBase62(length: number, random: (n: number) => Uint8Array): string {
  let out = '';
  // rejection sampling keeps the distribution uniform (248 = 4 * 62)
  while (out.length < length) {
    for (const b of random(length * 2)) {
      if (b < 248) out += BASE62[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}
