/** What commands print: JSON for scripts (`--json`), short text or aligned tables for people. */

export interface Out {
  json: boolean;
  /** Prints the value as JSON (with --json) or calls `human`. */
  result(value: unknown, human: () => void): void;
  line(text?: string): void;
  table(rows: Record<string, unknown>[], columns: string[]): void;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function createOut(json: boolean, write: (s: string) => void = (s) => void process.stdout.write(s)): Out {
  return {
    json,
    result(value, human) {
      if (json) write(JSON.stringify(value, null, 2) + '\n');
      else human();
    },
    line(text = '') {
      write(text + '\n');
    },
    table(rows, columns) {
      const cells = rows.map((r) => columns.map((c) => cell(r[c])));
      const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
      const fmt = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
      write(fmt(columns.map((c) => c.toUpperCase())) + '\n');
      for (const r of cells) write(fmt(r) + '\n');
    },
  };
}

/** `name=value` pairs from repeated options (`--metadata a=1`). */
export function keyValues(list: string[] | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  return Object.fromEntries(list.map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`"${kv}" is not name=value`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  }));
}
