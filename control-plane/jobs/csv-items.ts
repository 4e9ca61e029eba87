/**
 * CSV rows → bulk items (the JSON shape of POST /v1/links). The header row names the columns;
 * an empty cell means "not given". Values are converted where the type is unambiguous; a value
 * that does not convert is passed through as text, so the item check names the field.
 */
import { errors } from '../errors.js';

/** Every column a CSV upload may have. */
export const CSV_COLUMNS = [
  'domain', 'path', 'destination_url', 'external_id', 'tags',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content',
  'redirect_status', 'forward_query', 'expires_at', 'disabled', 'status', 'metadata', 'routing',
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

const KNOWN: ReadonlySet<string> = new Set(CSV_COLUMNS);
const TRUE = new Set(['true', '1', 'yes', 'y']);
const FALSE = new Set(['false', '0', 'no', 'n']);

export interface CsvHeader {
  columns: CsvColumn[];
}

/** Validates the header row (unknown or repeated column → 400 naming it). */
export function readCsvHeader(fields: string[]): CsvHeader {
  const columns: CsvColumn[] = [];
  const seen = new Set<string>();
  fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!KNOWN.has(name)) {
      throw errors.validation_failed(
        { field: 'csv.header', line: 1, column: i + 1, column_name: raw, reason: 'unknown_column', allowed: CSV_COLUMNS },
        `CSV header, column ${i + 1}: unknown column "${raw}" (allowed: ${CSV_COLUMNS.join(', ')})`,
      );
    }
    if (seen.has(name)) {
      throw errors.validation_failed({ field: 'csv.header', line: 1, column: i + 1, column_name: raw, reason: 'duplicate_column' }, `CSV header, column ${i + 1}: "${raw}" appears twice`);
    }
    seen.add(name);
    columns.push(name as CsvColumn);
  });
  return { columns };
}

function bool(v: string): boolean | string {
  const l = v.toLowerCase();
  return TRUE.has(l) ? true : FALSE.has(l) ? false : v;
}

function json(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** One data row → the item object (only non-empty cells). The caller checked the field count. */
export function csvRecordToItem(header: CsvHeader, fields: string[]): Record<string, unknown> {
  const item: Record<string, unknown> = {};
  let utm: Record<string, string> | null = null;
  const cols = header.columns;
  for (let i = 0; i < cols.length; i++) {
    const v = fields[i]!;
    if (v === '') continue;
    const col = cols[i]!;
    switch (col) {
      case 'tags':
        item.tags = v.split(/[|,]/).map((t) => t.trim()).filter((t) => t.length > 0);
        break;
      case 'utm_source':
      case 'utm_medium':
      case 'utm_campaign':
      case 'utm_term':
      case 'utm_content':
        (utm ??= {})[col.slice(4)] = v;
        break;
      case 'redirect_status':
        item.redirect_status = /^\d{3}$/.test(v) ? Number(v) : v;
        break;
      case 'forward_query':
      case 'disabled':
        item[col] = bool(v);
        break;
      case 'metadata':
      case 'routing':
        item[col] = json(v);
        break;
      default:
        item[col] = v;
    }
  }
  if (utm) item.utm = utm;
  return item;
}
