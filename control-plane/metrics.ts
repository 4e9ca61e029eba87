/** The control plane's Prometheus registry (one per app: no global state between tests). */
import { Counter, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../shared/process-metrics.js';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectProcessMetrics(registry);
  return {
    registry,
    httpRequests: new Counter({
      name: 'linkplane_http_requests_total',
      help: 'API requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'linkplane_http_request_duration_seconds',
      help: 'API latency by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
