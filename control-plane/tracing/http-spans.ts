/**
 * One SERVER span per API request, named `METHOD route` (`POST /v1/links`), child of the caller's
 * `traceparent` when it sent a valid one (an invalid one is ignored: a new trace, never a 4xx).
 * The request's context is entered twice: at onRequest (the hooks before the body) and again at
 * preValidation, because body parsing runs from socket events outside it; from there auth, the
 * idempotency hook and the handler run inside, so their DB spans and the rows they write
 * (events, outbox) belong to the request's trace.
 *
 * With export off and no `traceparent` header a request costs a header lookup; with the header,
 * its context is carried (no span is recorded) so webhooks and callbacks still receive it.
 */
import { context, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { contextFromTraceparent, installContextPropagation, tracer } from './propagation.js';

interface RequestTrace {
  ctx: Context;
  span: Span | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's trace context (and its span when spans are recorded); null: none. */
    traceContext: RequestTrace | null;
  }
}

export interface RequestTracingOptions {
  /** Spans are recorded (OTEL_EXPORTER_OTLP_ENDPOINT set); otherwise only a caller's context is carried. */
  record: boolean;
}

function end(req: FastifyRequest, reply: FastifyReply): void {
  const span = req.traceContext?.span;
  if (!span) return;
  req.traceContext!.span = null;
  const status = reply.statusCode;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

export function registerRequestTracing(app: FastifyInstance, opts: RequestTracingOptions): void {
  installContextPropagation();
  app.decorateRequest('traceContext', null);
  app.addHook('onRequest', (req, _reply, done) => {
    const header = req.headers.traceparent;
    if (!opts.record && header === undefined) return done();
    const parent = contextFromTraceparent(typeof header === 'string' ? header : undefined);
    if (!opts.record) {
      // carry only: a valid caller context, nothing to record
      if (!trace.getSpanContext(parent)) return done();
      req.traceContext = { ctx: parent, span: null };
      return context.with(parent, done);
    }
    const route = req.routeOptions.url;
    const span = tracer.startSpan(
      route ? `${req.method} ${route}` : req.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: req.method,
          [ATTR_URL_PATH]: req.url.split('?', 1)[0],
          [ATTR_URL_SCHEME]: req.protocol,
          ...(route ? { [ATTR_HTTP_ROUTE]: route } : {}),
          ...(typeof req.headers['user-agent'] === 'string' ? { [ATTR_USER_AGENT_ORIGINAL]: req.headers['user-agent'] } : {}),
          'linkplane.request_id': req.id,
        },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    req.traceContext = { ctx, span };
    context.with(ctx, done);
  });
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.traceContext === null) return done();
    context.with(req.traceContext.ctx, done);
  });
  if (!opts.record) return; // carrying only: nothing to end
  app.addHook('onError', (req, _reply, err, done) => {
    req.traceContext?.span?.recordException(err);
    done();
  });
  app.addHook('onResponse', (req, reply, done) => {
    end(req, reply);
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    const span = req.traceContext?.span;
    if (span) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'client aborted' });
      span.end();
      req.traceContext!.span = null;
    }
    done();
  });
}
