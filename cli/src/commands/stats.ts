/** `linkplane stats <link> [--by country]`: totals, a sparkline of the series, a bar chart of the groups. */
import type { LinkStats } from '@linkplane/sdk';
import { barChart, sparkline } from '../chart.js';
import { int, type Register } from './types.js';

const GROUPS = ['country', 'device', 'os', 'browser', 'referrer', 'variant', 'source'] as const;

export const registerStats: Register = (program, action) => {
  program
    .command('stats')
    .argument('<link>', 'the link id (ln_…)')
    .description("a link's clicks: totals, a sparkline over time, and a bar chart by country, device, …")
    .option('--by <group>', GROUPS.join(', '))
    .option('--from <time>', 'ISO 8601 start (default: 7 days ago)')
    .option('--to <time>', 'ISO 8601 end (default: now)')
    .option('--interval <hour|day>', 'series step', 'day')
    .option('--include-bots', 'count bot clicks too')
    .option('--limit <n>', 'groups shown', int, 10)
    .option('--width <columns>', 'bar width', int, 40)
    .action(action(async (ctx, link: string, o: { by?: string; from?: string; to?: string; interval: string; includeBots?: boolean; limit: number; width: number }) => {
      if (o.by !== undefined && !(GROUPS as readonly string[]).includes(o.by)) throw new Error(`--by must be one of ${GROUPS.join(', ')}`);
      const stats: LinkStats = await ctx.client().links.stats(link, {
        ...(o.by && { group_by: o.by as (typeof GROUPS)[number] }),
        ...(o.from && { from: o.from }),
        ...(o.to && { to: o.to }),
        interval: o.interval as 'hour' | 'day',
        ...(o.includeBots && { exclude_bots: false }),
        limit: o.limit,
      });
      ctx.out.result(stats, () => {
        ctx.out.line(`${stats.link_id}: ${stats.totals.clicks} clicks, ${stats.totals.visitors} visitors (${stats.from} → ${stats.to})`);
        ctx.out.line(`per ${stats.interval}: ${sparkline(stats.series.map((s) => s.clicks))}`);
        if (stats.groups) {
          ctx.out.line();
          ctx.out.line(`by ${o.by}:`);
          for (const row of barChart(stats.groups.map((g) => ({ label: g.value ?? '(unknown)', value: g.clicks })), o.width)) ctx.out.line(row);
        }
      });
    }));
};
