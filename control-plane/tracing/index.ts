/** Tracing: W3C trace context carried through rows and messages, OpenTelemetry spans exported by OTLP when configured. */
export { formatTraceparent, parseTraceparent } from './traceparent.js';
export {
  contextFromTraceparent,
  currentTraceparent,
  installContextPropagation,
  startSpanFrom,
  traceparentOf,
  tracer,
  TRACER_NAME,
} from './propagation.js';
export { parseOtlpHeaders, startTracing, type Tracing, type TracingSettings } from './setup.js';
export { registerRequestTracing, type RequestTracingOptions } from './http-spans.js';
export { describeQuery, traceQueries } from './db-spans.js';
