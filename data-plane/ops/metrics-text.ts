/** /metrics on the operations port: the shared state rendered as Prometheus text (exposition format 0.0.4). */
import { DECISION_SAMPLE, LATENCY_BUCKETS, STATUSES, WORKER_OFFSETS, type GaugeName, type SharedState } from './shared-state.js';

const P = 'linkplane_node_';

function line(out: string[], name: string, help: string, type: string, samples: [string, number][]): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, v] of samples) out.push(`${name}${labels} ${Number.isFinite(v) ? v : 0}`);
}

/** Click capture: each a gauge slot the main thread keeps current. */
const CLICK_METRICS: [name: string, gauge: GaugeName, type: 'counter' | 'gauge', help: string][] = [
  ['clicks_received_total', 'clicks_received', 'counter', 'clicks the serving threads captured and handed to the spool'],
  ['clicks_spooled_total', 'clicks_spooled', 'counter', 'clicks written to the durable local spool'],
  ['clicks_shipped_total', 'clicks_shipped', 'counter', 'clicks acknowledged by JetStream (and removed from the spool)'],
  ['clicks_dropped_total', 'clicks_dropped', 'counter', 'clicks dropped: the spool reached CLICK_SPOOL_MAX_MB, or the node was saturated past CLICK_BACKLOG_MAX_MB'],
  ['clicks_backlog_dropped_total', 'clicks_backlog_dropped', 'counter', 'of those, dropped by a saturated node before reaching the spool (CLICK_BACKLOG_MAX_MB)'],
  ['click_backlog_bytes', 'click_backlog_bytes', 'gauge', 'click batches handed over by the serving threads and not yet on disk'],
  ['click_ship_errors_total', 'click_ship_errors', 'counter', 'failed shipping rounds (NATS away, stream full); the batches stay spooled'],
  ['click_spool_clicks', 'click_spool_clicks', 'gauge', 'clicks waiting in the spool'],
  ['click_spool_bytes', 'click_spool_bytes', 'gauge', 'bytes the spool holds on disk'],
  ['click_spool_failing', 'click_spool_failing', 'gauge', '1 while the spool cannot be written (CLICK_DIR full or unwritable): batches are held in memory and retried'],
  ['clicks_held', 'clicks_held', 'gauge', 'clicks held in memory because the spool could not write them (part of click_backlog_bytes, bounded by CLICK_BACKLOG_MAX_MB)'],
];

/**
 * The node's own metrics. The standard process and Node.js metrics (`process_*`, `nodejs_*`: the
 * main thread's heap, the whole process's memory, CPU and descriptors) follow them, rendered by
 * prom-client under their stock names (shared/process-metrics.ts).
 */
export function renderMetrics(state: SharedState, nodeId: string): string {
  const out: string[] = [];
  const g = (n: GaugeName) => state.get(n);
  line(out, `${P}info`, 'constant 1, labelled with the node id', 'gauge', [[`{node_id="${nodeId}"}`, 1]]);
  line(out, `${P}ready`, '1 once the store caught up with the stream as it was at start', 'gauge', [['', g('ready')]]);
  line(out, `${P}nats_connected`, '1 while the NATS connection is up', 'gauge', [['', g('nats_connected')]]);
  const statusSamples: [string, number][] = STATUSES.map((s, i) => [`{status="${s}"}`, state.sum(WORKER_OFFSETS.W_STATUS + i)]);
  statusSamples.push(['{status="other"}', state.sum(WORKER_OFFSETS.W_STATUS + STATUSES.length)]);
  line(out, `${P}requests_total`, 'HTTP requests answered, by status', 'counter', statusSamples);
  const hist = `${P}decision_seconds`;
  out.push(`# HELP ${hist} time from request to decision (lookup, facts, rules), of one request in ${DECISION_SAMPLE}`, `# TYPE ${hist} histogram`);
  let cumulative = 0;
  LATENCY_BUCKETS.forEach((le, i) => {
    cumulative += state.sum(WORKER_OFFSETS.W_BUCKETS + i);
    out.push(`${hist}_bucket{le="${le}"} ${cumulative}`);
  });
  cumulative += state.sum(WORKER_OFFSETS.W_BUCKETS + LATENCY_BUCKETS.length);
  out.push(`${hist}_bucket{le="+Inf"} ${cumulative}`, `${hist}_sum ${state.sum(WORKER_OFFSETS.W_SUM)}`, `${hist}_count ${state.sum(WORKER_OFFSETS.W_COUNT)}`);
  const applied = g('applied_seq');
  const stream = g('stream_seq');
  line(out, `${P}sync_lag_entries`, 'links-stream entries not yet applied to the served store (stream sequence minus applied sequence)', 'gauge', [['', Math.max(0, stream - applied)]]);
  line(out, `${P}sync_applied_sequence`, 'last links-stream sequence applied to the served store', 'gauge', [['', applied]]);
  line(out, `${P}sync_stream_sequence`, 'last sequence of the links stream seen', 'gauge', [['', stream]]);
  line(out, `${P}sync_applied_entries_total`, 'KV updates applied since start', 'counter', [['', g('applied_entries')]]);
  line(out, `${P}sync_transactions_total`, 'LMDB write transactions since start', 'counter', [['', g('transactions')]]);
  line(out, `${P}sync_live_applied_total`, 'live updates (core NATS, ahead of the KV entry) written to the store since start', 'counter', [['', g('live_applied')]]);
  line(out, `${P}sync_live_ignored_total`, 'live updates not written (not newer than what the node had, not ready yet, or rebuilding) since start', 'counter', [['', g('live_ignored')]]);
  line(out, `${P}sync_kv_superseded_total`, 'KV entries not written because a newer live update of the key was already served', 'counter', [['', g('kv_superseded')]]);
  line(out, `${P}sync_stalled`, '1 while the replica is behind the stream with no successful store write for SYNC_MAX_BEHIND_MS (not ready)', 'gauge', [['', g('sync_stalled')]]);
  line(out, `${P}store_writes_failing`, '1 while the last store write transaction failed (disk full or unwritable under LMDB_PATH)', 'gauge', [['', g('store_writes_failing')]]);
  line(out, `${P}store_write_failures_total`, 'failed store write transactions since start (each retried)', 'counter', [['', g('store_write_failures')]]);
  line(out, `${P}store_rebuilds_total`, 'store rebuilds (replays into a fresh generation) since start', 'counter', [['', g('rebuilds')]]);
  line(out, `${P}links`, 'links in the served store', 'gauge', [['', g('links')]]);
  line(out, `${P}domains`, 'domains in the served store', 'gauge', [['', g('domains')]]);
  line(out, `${P}lmdb_bytes`, 'size of the served LMDB file', 'gauge', [['', g('lmdb_bytes')]]);
  line(out, `${P}rule_decode_errors_total`, 'stored values a serving thread could not decode since start (should stay 0)', 'counter', [['', state.sum(WORKER_OFFSETS.W_DECODE_ERRORS)]]);
  for (const [name, gauge, type, help] of CLICK_METRICS) line(out, `${P}${name}`, help, type, [['', g(gauge)]]);
  line(out, `${P}sync_heap_used_bytes`, 'V8 heap used by the sync thread', 'gauge', [['', g('sync_heap_used')]]);
  line(out, `${P}sync_heap_total_bytes`, 'V8 heap reserved by the sync thread', 'gauge', [['', g('sync_heap_total')]]);
  line(out, `${P}sync_external_bytes`, 'memory outside the V8 heap held by the sync thread (buffers)', 'gauge', [['', g('sync_external')]]);
  return `${out.join('\n')}\n`;
}
