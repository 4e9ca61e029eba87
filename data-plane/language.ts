/**
 * Accept-Language → the visitor's preferred language: the tag with the highest q-value (first one
 * on a tie), lower-cased; `*` and q=0 never count. A language condition `en` matches `en` and
 * `en-us`; `pt-br` matches only `pt-br`.
 */

const MAX_ENTRIES = 32;

function parseQ(params: string): number {
  // params: `;q=0.8` possibly with spaces and other params
  const i = params.indexOf('q=');
  if (i < 0) return 1;
  const q = Number(params.slice(i + 2).trim());
  return Number.isFinite(q) && q >= 0 && q <= 1 ? q : -1;
}

export function preferredLanguage(header: string): string | null {
  if (header.length === 0) return null;
  let best: string | null = null;
  let bestQ = 0;
  let start = 0;
  for (let n = 0; n < MAX_ENTRIES && start < header.length; n++) {
    let end = header.indexOf(',', start);
    if (end < 0) end = header.length;
    const entry = header.slice(start, end);
    start = end + 1;
    const semi = entry.indexOf(';');
    const tag = (semi < 0 ? entry : entry.slice(0, semi)).trim();
    if (tag.length === 0 || tag === '*' || tag.length > 35) continue;
    const q = semi < 0 ? 1 : parseQ(entry.slice(semi + 1));
    if (q > bestQ) {
      best = tag;
      bestQ = q;
      if (q === 1) break; // nothing can beat it and ties keep the first
    }
  }
  return best === null ? null : best.toLowerCase();
}

export function languageMatches(language: string, wanted: readonly string[]): boolean {
  for (const w of wanted) {
    if (language === w) return true;
    if (language.length > w.length && language.charCodeAt(w.length) === 45 /* - */ && language.startsWith(w)) return true;
  }
  return false;
}
