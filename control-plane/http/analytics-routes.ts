/**
 * Analytics API (scope `analytics:read`): link stats, workspace stats (top links), raw clicks
 * (cursor-paged JSON, or a streamed NDJSON/CSV export chosen by `Accept` or `format`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  EXPORT_CONTENT_TYPES, exportClicks, listClicks, STATS_DIMENSIONS, statsRange, topLinks, topValues, totalsAndSeries,
  type ExportFormat, type StatsDimension, type StatsFilter,
} from '../analytics/index.js';
import type { Pool } from '../db/pool.js';
import { parseInstant } from '../instant.js';
import { getLink } from '../links/link-service.js';
import { authOf } from './request-context.js';
import { Click, errorResponses, Id, IdParams, Nullable, WithDefault } from './schemas.js';

const Instant = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}([Tt ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?([Zz]|[+-]\\d{2}:?\\d{2})?)?$',
  description: 'ISO 8601 date (midnight UTC) or date-time',
});
const Interval = Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'day', description: 'bucket size (UTC)' });
const DIMENSION_DOC = 'country (ISO 3166-1 alpha-2), device (desktop, mobile, tablet, bot, …), os, browser, referrer (host), ' +
  'language (primary `Accept-Language` tag), variant (`variant`, or `rule/variant` inside a rule), rule (the rule that matched), ' +
  'source (`click` or `qr`), node (the redirect node), utm_source, utm_medium, utm_campaign, utm_term, utm_content ' +
  '(the click\'s UTM values), bot (`bot` or `human`; with exclude_bots=true only `human`)';
const Dimension = Type.Unsafe<StatsDimension>({ type: 'string', enum: [...STATS_DIMENSIONS], description: DIMENSION_DOC });
const GroupBy = Type.Unsafe<StatsDimension | 'link'>({
  type: 'string',
  enum: ['link', ...STATS_DIMENSIONS],
  description: `link (the workspace's top links) or a dimension: ${DIMENSION_DOC}`,
});
const ExcludeBots = Type.Boolean({ default: true, description: 'leave out clicks flagged as bots' });
const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'most groups returned' });

const Counts = { clicks: Type.Integer(), visitors: Type.Integer({ description: 'unique visitors (once per UTC day)' }) };
const Scans = Type.Integer({ description: 'the clicks that were QR scans (source `qr`), included in clicks' });
const Series = Type.Array(Type.Object({ start: Type.String({ format: 'date-time' }), ...Counts, scans: Scans }));
const Group = Type.Object({
  value: Nullable(Type.String({ description: 'the dimension\'s value (null = unknown), or the link id for group_by=link' })),
  ...Counts,
  link: Type.Optional(Type.Object({
    domain: Nullable(Type.String()),
    path: Nullable(Type.String()),
    short_url: Nullable(Type.String()),
    deleted: Type.Boolean(),
  }, { description: 'only for group_by=link (domain, path and short_url are null once the link is purged)' })),
}, { additionalProperties: false });
const RangeFields = {
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time', description: 'exclusive' }),
  interval: Interval,
  exclude_bots: Type.Boolean(),
};

/** One shape for a link's stats and a workspace's: `groups` is empty without a group_by. */
const Stats = Type.Object({
  link_id: Nullable(Id('ln', 'the link (GET /v1/links/{id}/stats), null for the workspace (GET /v1/stats)')),
  ...RangeFields,
  group_by: Nullable(GroupBy),
  totals: Type.Object({ ...Counts, scans: Scans }),
  series: Series,
  groups: Type.Array(Group, { description: 'the top values of group_by, most clicks first (ties by value); [] without a group_by' }),
}, { additionalProperties: false });

const iso = (t: number) => new Date(t).toISOString();

/** `format` wins; otherwise the first of NDJSON / CSV the Accept header names; otherwise JSON pages. */
function exportFormat(format: string | undefined, accept: string | undefined): ExportFormat | null {
  if (format === 'ndjson' || format === 'csv') return format;
  if (format === 'json') return null;
  const a = (accept ?? '').toLowerCase();
  const nd = a.indexOf('application/x-ndjson');
  const csv = a.indexOf('text/csv');
  if (nd >= 0 && (csv < 0 || nd < csv)) return 'ndjson';
  if (csv >= 0) return 'csv';
  return null;
}

export const analyticsRoutes =
  (pool: Pool, scheme: string): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['analytics'];

    app.get('/v1/links/:id/stats', {
      config: { scope: 'analytics:read' },
      schema: {
        tags,
        operationId: 'getLinkStats', summary: 'Clicks, QR scans and unique visitors of a link over time, optionally grouped by a dimension',
        description: 'From hourly rollups kept up to date by ingest. Range [from, to) in whole UTC hours/days; ' +
          'defaults: the last 30 days (interval=day) or 24 hours (interval=hour). Visitors are unique per UTC day; ' +
          'in hour buckets and groups a visitor counts where its first click of the day fell.',
        params: IdParams('ln'),
        querystring: Type.Object({
          from: Type.Optional(Instant),
          to: Type.Optional(Instant),
          interval: WithDefault(Interval),
          group_by: Type.Optional(Dimension),
          exclude_bots: WithDefault(ExcludeBots),
          limit: WithDefault(Limit),
        }, { additionalProperties: false }),
        response: { 200: Stats, ...errorResponses(400, 401, 403, 404, 429) },
      },
    }, async (req) => {
      const q = req.query;
      const range = statsRange(q);
      const link = await getLink(pool, authOf(req), req.params.id);
      const f: StatsFilter = { range, excludeBots: q.exclude_bots };
      const scope = { linkId: link.id };
      const [ts, groups] = await Promise.all([
        totalsAndSeries(pool, scope, f),
        q.group_by ? topValues(pool, scope, q.group_by, f, q.limit) : Promise.resolve([]),
      ]);
      return {
        link_id: link.id, from: iso(range.from), to: iso(range.to), interval: range.interval, exclude_bots: q.exclude_bots,
        group_by: q.group_by ?? null, totals: ts.totals, series: ts.series, groups,
      };
    });

    app.get('/v1/stats', {
      config: { scope: 'analytics:read' },
      schema: {
        tags,
        operationId: 'getWorkspaceStats', summary: 'Workspace stats: top links (group_by=link) or top values of a dimension across all links',
        params: Type.Object({}),
        querystring: Type.Object({
          group_by: WithDefault(Type.Unsafe<StatsDimension | 'link'>({ ...GroupBy, default: 'link' })),
          from: Type.Optional(Instant),
          to: Type.Optional(Instant),
          interval: WithDefault(Interval),
          exclude_bots: WithDefault(ExcludeBots),
          limit: WithDefault(Type.Integer({ minimum: 1, maximum: 1000, default: 10, description: 'most groups returned' })),
        }, { additionalProperties: false }),
        response: { 200: Stats, ...errorResponses(400, 401, 403, 429) },
      },
    }, async (req) => {
      const q = req.query;
      const auth = authOf(req);
      const range = statsRange(q);
      const f: StatsFilter = { range, excludeBots: q.exclude_bots };
      const scope = { workspaceId: auth.workspaceId, domains: auth.domains };
      const [ts, groups] = await Promise.all([
        totalsAndSeries(pool, scope, f),
        q.group_by === 'link' ? topLinks(pool, auth, f, q.limit, scheme) : topValues(pool, scope, q.group_by, f, q.limit),
      ]);
      return {
        link_id: null, from: iso(range.from), to: iso(range.to), interval: range.interval, exclude_bots: q.exclude_bots,
        group_by: q.group_by, totals: ts.totals, series: ts.series, groups,
      };
    });

    app.get('/v1/links/:id/clicks', {
      config: { scope: 'analytics:read' },
      schema: {
        tags,
        operationId: 'listLinkClicks', summary: 'Raw click events of a link: JSON pages (newest first), or an export streamed as NDJSON or CSV (oldest first)',
        description: 'Send `Accept: application/x-ndjson` or `Accept: text/csv` (or `format=ndjson|csv`) to stream every click ' +
          'in [from, to) instead of a page. Raw events are kept CLICK_RETENTION_DAYS days; bots are included unless exclude_bots=true.',
        params: IdParams('ln'),
        querystring: Type.Object({
          from: Type.Optional(Instant),
          to: Type.Optional(Instant),
          exclude_bots: WithDefault(Type.Boolean({ default: false })),
          format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('ndjson'), Type.Literal('csv')])),
          limit: WithDefault(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          cursor: Type.Optional(Type.String({ maxLength: 512 })),
        }, { additionalProperties: false }),
        response: {
          200: {
            description: 'a page of clicks (JSON), or the export (NDJSON / CSV)',
            content: {
              'application/json': { schema: Type.Object({ data: Type.Array(Click), next_cursor: Nullable(Type.String()) }) },
              'application/x-ndjson': { schema: { type: 'string' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    }, async (req, reply) => {
      const q = req.query;
      const from = q.from !== undefined ? parseInstant(q.from, 'from') : null;
      const to = q.to !== undefined ? parseInstant(q.to, 'to') : null;
      const link = await getLink(pool, authOf(req), req.params.id);
      const filter = { linkId: link.id, from, to, excludeBots: q.exclude_bots };
      const format = exportFormat(q.format, req.headers.accept);
      if (format === null) return reply.send(await listClicks(pool, filter, { limit: q.limit, cursor: q.cursor }));
      const stream = await exportClicks(pool, filter, format);
      reply.raw.once('close', () => {
        if (!stream.readableEnded) stream.destroy();
      });
      const name = `clicks-${link.id}.${format === 'csv' ? 'csv' : 'ndjson'}`;
      return reply.type(EXPORT_CONTENT_TYPES[format]).header('Content-Disposition', `attachment; filename="${name}"`).header('Cache-Control', 'no-store').send(stream);
    });
  };
