/** Plain-text and Markdown tables of result rows (columns: the union of the rows' keys, in first-seen order). */

function columns(rows: readonly Record<string, unknown>[]): string[] {
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'n/a';
    return Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  }
  return String(v);
}

export function textTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = columns(rows);
  const cells = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const numeric = cols.map((c) => rows.every((r) => r[c] === undefined || r[c] === '' || typeof r[c] === 'number'));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(width[i]!) : v.padEnd(width[i]!))).join('  ');
  return [line(cols), width.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export function markdownTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const cols = columns(rows);
  const numeric = cols.map((c) => rows.every((r) => r[c] === undefined || r[c] === '' || typeof r[c] === 'number'));
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${cols.map(esc).join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => esc(cell(r[c]))).join(' | ')} |`),
  ].join('\n');
}

/** Splits rows into runs of consecutive rows with the same keys (a scenario's load rows, then its facts). */
export function groupRows<T extends Record<string, unknown>>(rows: readonly T[]): T[][] {
  const groups: T[][] = [];
  let sig = '';
  for (const r of rows) {
    const s = Object.keys(r).join('\u0000');
    if (s !== sig || groups.length === 0) {
      groups.push([]);
      sig = s;
    }
    groups[groups.length - 1]!.push(r);
  }
  return groups;
}
