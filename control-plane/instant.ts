/**
 * The one parser for every date the API takes (list filters, stats and export ranges, webhook
 * replay ranges, `expires_at`, routing time windows): an ISO 8601 date (midnight UTC) or date-time
 * (UTC when it has no offset) → epoch ms, or a 400 naming the field. `Date.parse` alone lets
 * through what Postgres then refuses with a 500 (year 0000, results past year 9999) and rolls
 * impossible dates over (2026-02-30 → March 2); this checks each part.
 */
import { errors } from './errors.js';

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|([+-])(\d{2}):?(\d{2}))?)?$/;

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: what both JavaScript and Postgres hold. */
export const MIN_INSTANT = -62_135_596_800_000;
export const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const leap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysIn = (y: number, m: number) => (m === 2 && leap(y) ? 29 : DAYS[m - 1]!);

export type InstantProblem = 'format' | 'out_of_range';

/** Epoch ms of `v`, or why not. Pure. */
export function readInstant(v: string): { ok: true; ms: number } | { ok: false; problem: InstantProblem } {
  const m = INSTANT.exec(v);
  if (!m) return { ok: false, problem: 'format' };
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', , sign, oh = '0', om = '0'] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  const offH = Number(oh), offM = Number(om);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return { ok: false, problem: 'format' };
  if (hour > 23 || minute > 59 || second > 59 || offH > 23 || offM > 59) return { ok: false, problem: 'format' };
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it reads years 0–99 as 1900–1999
  date.setUTCHours(hour, minute, second, frac ? Math.floor(Number(`0${frac}`) * 1000) : 0);
  const offset = (sign === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  const ms = date.getTime() - offset;
  if (!(ms >= MIN_INSTANT && ms <= MAX_INSTANT)) return { ok: false, problem: 'out_of_range' };
  return { ok: true, ms };
}

/** Epoch ms of `v`, or validation_failed naming `field` (in `where`). */
export function parseInstant(v: string, field: string, where: 'querystring' | 'body' = 'querystring'): number {
  const r = readInstant(v);
  if (r.ok) return r.ms;
  const message = r.problem === 'format'
    ? `${field} is not a valid ISO 8601 date or date-time`
    : `${field} is outside 0001-01-01 … 9999-12-31 (UTC)`;
  throw errors.validation_failed({ field, in: where, reason: r.problem }, message);
}

/** The same instant as an ISO string in UTC (what Postgres is given). */
export const instantIso = (v: string, field: string, where: 'querystring' | 'body' = 'querystring'): string =>
  new Date(parseInstant(v, field, where)).toISOString();
