/**
 * Hourly rollups per link, computed from the clicks a transaction actually inserted (pure).
 *
 * One row per (link, dimension, hour, value, bot): dimension '' is the total, the others are
 * ROLLUP_DIMENSIONS. `visitors` counts a visitor once per UTC day (visitor hashes rotate daily), in
 * the hour and dimension values of its first click that was stored — so the hours of a day, or
 * the values of a dimension, add up to the day's unique visitors.
 */
import type { ClickEvent } from '../../shared/index.js';

export const ROLLUP_DIMENSIONS = ['country', 'device', 'os', 'browser', 'referrer', 'variant', 'source'] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

/** The A/B variant as a group value: `variant` for the default split, `rule/variant` inside a rule. */
export function variantValue(ruleId: string | null, variantId: string | null): string {
  if (variantId === null) return '';
  return ruleId === null ? variantId : `${ruleId}/${variantId}`;
}

/** The value a click has in each dimension ('' = unknown), in ROLLUP_DIMENSIONS order. */
export function dimensionValues(c: ClickEvent): string[] {
  return [
    c.country ?? '',
    c.deviceClass ?? '',
    c.os ?? '',
    c.browser ?? '',
    c.referrerHost ?? '',
    variantValue(c.ruleId, c.variantId),
    c.qr ? 'qr' : 'click',
  ];
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

/**
 * Rollup increments for `clicks`; `firstOfDay[i]` says click i is its visitor's first counted
 * click of that day on that link. Rows come sorted by their primary key, so concurrent ingest
 * transactions lock rollup rows in the same order (no deadlocks).
 */
export function rollup(clicks: readonly ClickEvent[], firstOfDay: readonly boolean[]): RollupRow[] {
  // group identical combinations first (few per link-hour), then expand into dimensions
  const combos = new Map<string, { c: ClickEvent; hour: number; values: string[]; clicks: number; visitors: number }>();
  for (let i = 0; i < clicks.length; i++) {
    const c = clicks[i]!;
    const hour = c.occurredAt - (c.occurredAt % HOUR);
    const values = dimensionValues(c);
    const key = `${c.linkId}\u0000${hour}\u0000${c.bot ? 1 : 0}\u0000${values.join('\u0000')}`;
    let g = combos.get(key);
    if (!g) {
      g = { c, hour, values, clicks: 0, visitors: 0 };
      combos.set(key, g);
    }
    g.clicks++;
    if (firstOfDay[i]) g.visitors++;
  }
  const rows = new Map<string, RollupRow>();
  const add = (g: { c: ClickEvent; hour: number; clicks: number; visitors: number }, dim: RollupRow['dim'], value: string) => {
    const key = `${g.c.linkId}\u0000${dim}\u0000${g.hour}\u0000${value}\u0000${g.c.bot ? 1 : 0}`;
    const r = rows.get(key);
    if (r) {
      r.clicks += g.clicks;
      r.visitors += g.visitors;
    } else {
      rows.set(key, { linkId: g.c.linkId, dim, hour: g.hour, value, bot: g.c.bot, workspaceId: g.c.workspaceId, clicks: g.clicks, visitors: g.visitors });
    }
  };
  for (const g of combos.values()) {
    add(g, '', '');
    for (let d = 0; d < ROLLUP_DIMENSIONS.length; d++) add(g, ROLLUP_DIMENSIONS[d]!, g.values[d]!);
  }
  return [...rows.values()].sort(compareRows);
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Primary-key order (link_id, dim, hour, value, bot), byte-wise like Postgres' "C" collation for ASCII ids. */
export function compareRows(a: RollupRow, b: RollupRow): number {
  return cmp(a.linkId, b.linkId) || cmp(a.dim, b.dim) || a.hour - b.hour || cmp(a.value, b.value) || Number(a.bot) - Number(b.bot);
}
