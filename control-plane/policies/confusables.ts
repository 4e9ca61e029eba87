/**
 * Confusable-insensitive matching for banned path words: the UTS #39 skeleton
 * (https://www.unicode.org/reports/tr39/#def-skeleton) restricted to what maps onto Latin letters
 * and digits, after NFKC and case folding. `skeleton(a).includes(skeleton(b))` is the match.
 *
 * The table is the subset of Unicode's confusables.txt (MA table) whose prototype is a Latin
 * lowercase letter or letter pair: Cyrillic and Greek look-alikes, Latin variants (dotless i, long
 * s, script g), and the ASCII pairs the data file itself lists (1 → l, 0 → o, m → rn, d → cl).
 * Fullwidth and mathematical letters need no entry: NFKC folds them first.
 */
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  'а': 'a', 'с': 'c', 'ԁ': 'cl', 'е': 'e', 'һ': 'h', 'і': 'i', 'ј': 'j', 'ӏ': 'l', 'о': 'o', 'р': 'p',
  'ԛ': 'q', 'ѕ': 's', 'ԝ': 'w', 'х': 'x', 'у': 'y', 'ү': 'y', 'ɡ': 'g', 'ь': 'b',
  // Greek
  'α': 'a', 'ο': 'o', 'ρ': 'p', 'ν': 'v', 'ι': 'i', 'γ': 'y', 'ϲ': 'c', 'ϳ': 'j', 'σ': 'o', 'υ': 'u',
  // Latin variants and IPA
  'ı': 'i', 'ɩ': 'i', 'ɪ': 'i', 'ſ': 'f', 'ɑ': 'a', 'ɒ': 'a', 'ɛ': 'e', 'ʟ': 'l', 'ʀ': 'r', 'ᴠ': 'v', 'ᴡ': 'w', 'ᴢ': 'z', 'ʏ': 'y',
  'ᴄ': 'c', 'ᴏ': 'o', 'ᴜ': 'u', 'ǀ': 'l',
  // ASCII (prototypes from confusables.txt)
  '0': 'o', '1': 'l', '|': 'l', 'm': 'rn', 'd': 'cl',
};

/** NFKC, case fold, confusables mapped to their Latin prototypes, NFD (as UTS #39 ends). */
export function skeleton(text: string): string {
  const folded = text.normalize('NFKC').toLowerCase();
  let out = '';
  for (const ch of folded) out += CONFUSABLES[ch] ?? ch;
  return out.normalize('NFD');
}

/** The first of `words` that `text` contains, case- and confusable-insensitively. */
export function bannedWordIn(text: string, words: readonly string[]): string | null {
  if (words.length === 0) return null;
  const s = skeleton(text);
  for (const w of words) if (s.includes(skeleton(w))) return w;
  return null;
}
