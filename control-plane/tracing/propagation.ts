/**
 * Carrying the trace context: the request's context is the ambient one (AsyncLocalStorage, the
 * OpenTelemetry context API), so writers deep in a service (emitEvents, enqueue) read it without
 * every signature growing a parameter; rows store it as `traceparent` text and background workers
 * (relay, dispatcher, job callbacks) continue from it explicitly.
 *
 * Carrying works with export off too: no tracer provider is registered then, the API's no-op tracer
 * returns a non-recording span holding its parent's context, so the caller's `traceparent` is passed
 * on unchanged to webhook receivers and callbacks.
 */
import { context, isSpanContextValid, ROOT_CONTEXT, trace, type Context, type Span, type SpanOptions } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { formatTraceparent, parseTraceparent } from './traceparent.js';

/** Instrumentation scope of every span the control plane makes. */
export const TRACER_NAME = 'linkplane-control-plane';
/** A proxy: spans are no-ops until setup.ts registers a provider, and real from then on. */
export const tracer = trace.getTracer(TRACER_NAME);

let installed = false;

/**
 * Makes the context API carry contexts across awaits (the process-wide AsyncLocalStorage manager
 * OpenTelemetry uses). Idempotent; buildApp calls it, so carrying works in every process that serves the API.
 */
export function installContextPropagation(): void {
  if (installed) return;
  installed = true;
  const manager = new AsyncLocalStorageContextManager().enable();
  if (!context.setGlobalContextManager(manager)) manager.disable(); // one was set already: keep it
}

/** The active span context as a `traceparent`, or null when there is none. */
export function currentTraceparent(): string | null {
  const sc = trace.getSpanContext(context.active());
  return sc && isSpanContextValid(sc) ? formatTraceparent(sc) : null;
}

/** The context of a stored or received `traceparent` (a remote parent); ROOT_CONTEXT when null or invalid. */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** The `traceparent` naming a span (its id as the parent of the next hop), or null for an invalid one. */
export function traceparentOf(span: Span): string | null {
  const sc = span.spanContext();
  return isSpanContextValid(sc) ? formatTraceparent(sc) : null;
}

/**
 * Starts a span continuing a stored `traceparent` (a new trace when null). With export off it is a
 * non-recording span carrying the parent's context, so `traceparentOf(span)` is that parent.
 */
export function startSpanFrom(traceparent: string | null | undefined, name: string, options: SpanOptions): Span {
  return tracer.startSpan(name, options, contextFromTraceparent(traceparent));
}
