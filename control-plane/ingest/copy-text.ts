/**
 * Rows in Postgres COPY text format (tab-separated, `\N` for NULL, backslash escapes): the
 * fastest way to hand Postgres tens of thousands of rows in one statement.
 */

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** A text value escaped for COPY text format. */
export function copyEscape(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\t') out += '\\t';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else out += c;
  }
  return out;
}

export const COPY_NULL = '\\N';

/** Escapes repeated strings once (click batches repeat the same link, domain, country… a lot). */
export class CopyEscaper {
  private readonly memo = new Map<string, string>();

  text(s: string | null): string {
    if (s === null) return COPY_NULL;
    let e = this.memo.get(s);
    if (e === undefined) {
      e = copyEscape(s);
      this.memo.set(s, e);
    }
    return e;
  }
}

/** A bytea value given as hex, in COPY text format (`\\x…`: the backslash itself is escaped). */
export const copyByteaHex = (hex: string): string => `\\\\x${hex}`;
