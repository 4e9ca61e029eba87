/**
 * Time-window conditions: an absolute [from, to) range in epoch ms, optionally narrowed to weekdays
 * (0 = Sunday) and an hour range [start, end) in an IANA timezone. Hour ranges may wrap midnight
 * ([22, 6]); equal bounds mean the whole day. Local time is computed once per timezone per minute.
 */
import type { Condition } from '../shared/index.js';

export type TimeCondition = Extract<Condition, { type: 'time' }>;

interface LocalTime {
  minute: number;
  day: number;
  hour: number;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
const formatters = new Map<string, Intl.DateTimeFormat | null>();
const latest = new Map<string, LocalTime>();

function formatter(timezone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(timezone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
    } catch {
      f = null; // unknown timezone: the condition never holds
    }
    if (formatters.size < 1000) formatters.set(timezone, f);
  }
  return f;
}

/** Weekday (0 = Sunday) and hour (0–23) at `now` in `timezone`; null for an unknown timezone. */
export function localDayHour(timezone: string, now: number): { day: number; hour: number } | null {
  const minute = Math.floor(now / 60_000);
  const cached = latest.get(timezone);
  if (cached && cached.minute === minute) return cached;
  let day: number;
  let hour: number;
  if (timezone === 'UTC' || timezone === 'Etc/UTC') {
    const d = new Date(now);
    day = d.getUTCDay();
    hour = d.getUTCHours();
  } else {
    const f = formatter(timezone);
    if (!f) return null;
    day = 0;
    hour = 0;
    for (const p of f.formatToParts(now)) {
      if (p.type === 'weekday') day = WEEKDAYS[p.value] ?? 0;
      else if (p.type === 'hour') hour = Number(p.value) % 24;
    }
  }
  const t = { minute, day, hour };
  if (latest.size < 1000 || latest.has(timezone)) latest.set(timezone, t);
  return t;
}

export function timeWindowMatches(c: TimeCondition, now: number): boolean {
  if (c.from !== null && now < c.from) return false;
  if (c.to !== null && now >= c.to) return false;
  if (c.days === null && c.hours === null) return true;
  const local = localDayHour(c.timezone, now);
  if (!local) return false;
  if (c.days !== null && !c.days.includes(local.day)) return false;
  if (c.hours !== null) {
    const [start, end] = c.hours;
    if (start < end) return local.hour >= start && local.hour < end;
    if (start > end) return local.hour >= start || local.hour < end;
  }
  return true;
}
