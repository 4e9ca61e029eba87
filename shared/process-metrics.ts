/**
 * The standard process and Node.js metrics (prom-client's defaults), under their stock names in
 * both processes (`process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, …), so the
 * usual Node.js dashboards and alerts work on the control plane and the node alike.
 *
 * Not exported from shared/index.ts: the node's serving threads import that, and they never
 * collect these (the node's main thread does, for the whole process).
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * Gauges prom-client names like counters; `promtool check metrics` refuses them. The same numbers
 * stay available by type: `sum(nodejs_active_handles)` etc.
 */
export const GAUGES_NAMED_LIKE_COUNTERS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
}
