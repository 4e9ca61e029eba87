/**
 * Hourly rollup increments per link, from the clicks a transaction actually inserted (pure).
 *
 * One row per (link, dimension, hour, value, bot): dimension '' is the total, the others are
 * ROLLUP_DIMENSIONS; value '' is unknown. `visitors` counts a visitor once per UTC day (visitor
 * hashes rotate daily), in the hour and dimension values of its first click that was stored — so
 * the hours of a day, or the values of a dimension, add up to the day's unique visitors.
 *
 * A dimension's default value (DIM_DEFAULTS: '' = unknown, and `click` for `source`) gets no row:
 * since every click counts once in the total and once in each dimension, its clicks and visitors
 * are the total's minus the dimension's other values (analytics/stats-query.ts derives them). Most
 * dimensions of most clicks hold their default (no UTM term, no rule, no variant, not a QR scan),
 * and a link clicked a few times in an hour wrote 16 rows per hour and bot flag, each folded and
 * upserted by the compactor — the largest part of ingest's Postgres CPU.
 *
 * Ingest appends these increments to `click_rollup_deltas` (COPY, no index, one row of arrays per (link, hour, bot): cheap at 50 000
 * clicks/s) in the clicks' own transaction; the compactor folds them into `click_rollups`; readers
 * see both through the `click_rollups_live` view, so stats are exact at every commit.
 */
import { F, type ClickSet } from './click-set.js';

/**
 * Every stored click field a report can group by. `variant` is `variant` or `rule/variant`, `rule`
 * the rule that matched ('' = none: the default split or destination), `source` is `click` or `qr`,
 * `utm_*` the click's UTM snapshot, `node` the redirect node that served it. (`bot` is the rollup
 * rows' own column, so it needs no dimension of its own.)
 */
export const ROLLUP_DIMENSIONS = [
  'country', 'device', 'os', 'browser', 'referrer', 'variant', 'source',
  'language', 'rule', 'node', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content',
] as const;
/** The UTM keys of a click's snapshot, in ROLLUP_DIMENSIONS order. */
export const UTM_KEYS = ['source', 'medium', 'campaign', 'term', 'content'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];
const DIM_NAMES: readonly ('' | RollupDimension)[] = ['', ...ROLLUP_DIMENSIONS];
/** The value of each dimension that is not stored (derived as the total minus the other values). */
export const DIM_DEFAULTS: Readonly<Record<RollupDimension, string>> = Object.fromEntries(
  ROLLUP_DIMENSIONS.map((d) => [d, d === 'source' ? 'click' : '']),
) as Record<RollupDimension, string>;

/** The A/B variant as a group value: `variant` for the default split, `rule/variant` inside a rule. */
export function variantValue(ruleId: string | null, variantId: string | null): string {
  if (variantId === null) return '';
  return ruleId === null ? variantId : `${ruleId}/${variantId}`;
}

export interface RollupRow {
  linkId: string;
  dim: '' | RollupDimension;
  /** Epoch ms of the hour's start (UTC). */
  hour: number;
  value: string;
  bot: boolean;
  workspaceId: string;
  clicks: number;
  visitors: number;
}

const HOUR = 3_600_000;
const B21 = 2 ** 21;

/** Receives one rollup increment (strings as ClickSet dictionary ids; `dim` indexes DIM_NAMES). */
export type RollupSink = (link: number, dim: number, hour: number, value: number, bot: boolean, workspace: number, clicks: number, visitors: number) => void;

/**
 * Rollup increments for the clicks `rows` of `set` (grouped by link, in time order within a
 * link, as ClickSet.ordered() gives them); `first[j]` = 1 when rows[j] is its visitor's first
 * counted click of that day on that link. Returns the number of increments emitted.
 */
export function rollupInto(set: ClickSet, rows: Int32Array, first: Uint8Array, emit: RollupSink): number {
  const link = set.cols[F.link]!;
  const ws = set.cols[F.workspace]!;
  const rule = set.cols[F.rule]!;
  const variant = set.cols[F.variant]!;
  const direct = [set.cols[F.country]!, set.cols[F.device]!, set.cols[F.os]!, set.cols[F.browser]!, set.cols[F.referrer]!];
  const later = [set.cols[F.language]!, rule, set.cols[F.node]!];
  const utm = set.cols[F.utm]!;
  const qrG = set.intern('qr');
  // a click's UTM snapshot (one JSON string per distinct snapshot) → its five values, interned once
  const utmValues = new Map<number, Int32Array>();
  const noUtm = new Int32Array(UTM_KEYS.length);
  const utmOf = (i: number): Int32Array => {
    const u = utm[i]!;
    if (u === 0) return noUtm;
    let vs = utmValues.get(u);
    if (vs === undefined) {
      const o = JSON.parse(set.strings[u]!) as Record<string, unknown>;
      vs = Int32Array.from(UTM_KEYS, (k) => (typeof o[k] === 'string' && o[k] !== '' ? set.intern(o[k]) : 0));
      utmValues.set(u, vs);
    }
    return vs;
  };
  const composed = new Map<number, number>();
  const variantOf = (i: number): number => {
    const v = variant[i]!;
    const r = rule[i]!;
    if (v === 0 || r === 0) return v;
    const key = r * B21 + v;
    let g = composed.get(key);
    if (g === undefined) composed.set(key, (g = set.intern(`${set.strings[r]}/${set.strings[v]}`)));
    return g;
  };
  if (DIM_NAMES.length > 16) throw new Error('a rollup key holds 16 dimensions');
  // new strings: one composed variant per row at most, five UTM values per distinct snapshot at most
  if (set.strings.length * (1 + UTM_KEYS.length) + rows.length >= B21) throw new Error('too many distinct strings in one transaction');

  // one (link, hour) run at a time: keys are small integers, nothing allocated per click
  const slot = new Map<number, number>();
  const sClicks: number[] = [];
  const sVisitors: number[] = [];
  const sKey: number[] = [];
  let curLink = -1;
  let curHour = -1;
  let curWs = 0;
  let emitted = 0;
  const flush = () => {
    for (let k = 0; k < sKey.length; k++) {
      const key = sKey[k]!;
      const bot = (key & 1) === 1;
      const d = (key >>> 1) & 15;
      const v = Math.floor(key / 32);
      emit(curLink, d, curHour, v, bot, curWs, sClicks[k]!, sVisitors[k]!);
      emitted++;
    }
    slot.clear();
    sClicks.length = 0;
    sVisitors.length = 0;
    sKey.length = 0;
  };
  for (let j = 0; j < rows.length; j++) {
    const i = rows[j]!;
    const t = set.times[i]!;
    const hour = t - (t % HOUR);
    const l = link[i]!;
    if (l !== curLink || hour !== curHour) {
      flush();
      curLink = l;
      curHour = hour;
      curWs = ws[i]!;
    }
    const bot = set.flags[i]! & 1;
    const fst = first[j]!;
    const utmI = utmOf(i);
    for (let d = 0; d < DIM_NAMES.length; d++) {
      // 0 = the dimension's default value (DIM_DEFAULTS): no row, except the total's (d = 0)
      const v = d === 0 ? 0 : d <= 5 ? direct[d - 1]![i]! : d === 6 ? variantOf(i) : d === 7 ? (set.flags[i]! & 2 ? qrG : 0)
        : d <= 10 ? later[d - 8]![i]! : utmI[d - 11]!;
      if (d !== 0 && (v === 0 || set.strings[v]!.length === 0)) continue;
      const key = (v * 16 + d) * 2 + bot;
      const k = slot.get(key);
      if (k === undefined) {
        slot.set(key, sKey.length);
        sKey.push(key);
        sClicks.push(1);
        sVisitors.push(fst);
      } else {
        sClicks[k]!++;
        sVisitors[k]! += fst;
      }
    }
  }
  flush();
  return emitted;
}

/** The same increments as objects (tests, tools). */
export function rollup(set: ClickSet, rows: Int32Array, first: Uint8Array): RollupRow[] {
  const out: RollupRow[] = [];
  rollupInto(set, rows, first, (l, d, hour, v, bot, w, clicks, visitors) => {
    out.push({ linkId: set.strings[l]!, dim: DIM_NAMES[d]!, hour, value: set.strings[v]!, bot, workspaceId: set.strings[w]!, clicks, visitors });
  });
  return out;
}

export { DIM_NAMES };
