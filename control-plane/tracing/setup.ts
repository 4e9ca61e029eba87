/**
 * Export setup: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans are batched (BatchSpanProcessor) and
 * sent by OTLP/HTTP (JSON) to `<endpoint>/v1/traces`; unset, no provider is registered and every
 * span is the API's no-op (the API path pays a header lookup). Only main.ts calls this.
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from '../../shared/index.js';
import { installContextPropagation } from './propagation.js';

export interface TracingSettings {
  /** OTLP/HTTP base URL (the collector's :4318); undefined: no export. */
  endpoint: string | undefined;
  /** Extra export request headers, `k=v,k2=v2` (an API key of a hosted backend). */
  headers: string | undefined;
  serviceName: string;
  /** Share of new traces recorded; a trace the caller sampled (or not) keeps the caller's decision. */
  sampleRatio: number;
  scheduleDelayMs: number;
}

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Exports what is buffered and stops (SIGTERM). */
  shutdown(): Promise<void>;
}

/** `k=v,k2=v2` (values URL-encoded, as OTEL_EXPORTER_OTLP_HEADERS specifies) → a header record. */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    out[decodeURIComponent(pair.slice(0, i).trim())] = decodeURIComponent(pair.slice(i + 1).trim());
  }
  return out;
}

export function startTracing(s: TracingSettings, log: Logger): Tracing {
  installContextPropagation();
  if (!s.endpoint) return { enabled: false, shutdown: async () => undefined };
  const url = `${s.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const exporter = new OTLPTraceExporter({ url, headers: parseOtlpHeaders(s.headers) });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: s.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(s.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: s.scheduleDelayMs })],
  });
  trace.setGlobalTracerProvider(provider);
  log.info({ url, service: s.serviceName, sample_ratio: s.sampleRatio }, 'tracing: exporting spans by OTLP/HTTP');
  return {
    enabled: true,
    shutdown: async () => {
      try {
        await provider.shutdown();
      } catch (err) {
        log.warn({ err }, 'tracing: flushing spans at shutdown failed');
      }
    },
  };
}
