/** Analytics (rollups and raw clicks → API): the public entry of this folder. */
export { statsRange, bucketStarts, MAX_BUCKETS, type Interval, type StatsRange } from './stats-range.js';
export { totalsAndSeries, topValues, topLinks, STATS_DIMENSIONS, type StatsDimension, type Counts, type SeriesPoint, type Scope, type StatsFilter, type TopLink } from './stats-query.js';
export {
  listClicks, exportClicks, encodeClickCursor, decodeClickCursor, EXPORT_CONTENT_TYPES,
  type ClickFilter, type ClickResource, type ExportFormat,
} from './click-query.js';
