/**
 * CLIENT spans for Postgres queries, hand-written around pg (no instrumentation package): a query
 * gets a span only inside a recorded span (an API request, a delivery), so background polling makes
 * none. The span is named by the query's prepared-statement name (`events_emit`) or its statement
 * kind (`SELECT`, `BEGIN`); parameters and the statement text are never recorded.
 *
 * Wrapped: `pool.query` (the span starts in the caller's context; pg runs it on a client from the
 * pool, whose own `query` is then left alone) and clients checked out with `await pool.connect()`
 * (transactions), for that checkout only.
 */
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from '@opentelemetry/semantic-conventions';
import type pg from 'pg';
import { tracer } from './propagation.js';

type QueryFn = (...args: unknown[]) => unknown;

const CHECKOUT = Symbol('linkplane.traced-checkout');
const WRAPPED = Symbol('linkplane.traced-query');

interface Traced {
  [CHECKOUT]?: boolean;
  [WRAPPED]?: boolean;
}

/** The span name and statement kind, or null for what is not a plain query (a COPY stream, a cursor). */
export function describeQuery(q: unknown): { summary: string; operation: string } | null {
  let text: unknown;
  let name: unknown;
  if (typeof q === 'string') text = q;
  else if (q && typeof q === 'object') {
    if (typeof (q as { submit?: unknown }).submit === 'function') return null;
    ({ text, name } = q as { text?: unknown; name?: unknown });
  }
  const keyword = typeof text === 'string' ? /^\s*([A-Za-z]+)/.exec(text)?.[1] : undefined;
  const operation = keyword ? keyword.toUpperCase() : 'QUERY';
  return { summary: typeof name === 'string' && name !== '' ? name : operation, operation };
}

function traced(orig: QueryFn, self: unknown, args: unknown[], database: string | undefined): unknown {
  const active = context.active();
  if (!trace.getSpan(active)?.isRecording()) return orig.apply(self, args);
  const d = describeQuery(args[0]);
  if (!d) return orig.apply(self, args);
  const span = tracer.startSpan(
    d.summary,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_DB_SYSTEM_NAME]: DB_SYSTEM_NAME_VALUE_POSTGRESQL,
        [ATTR_DB_OPERATION_NAME]: d.operation,
        [ATTR_DB_QUERY_SUMMARY]: d.summary,
        ...(database ? { [ATTR_DB_NAMESPACE]: database } : {}),
      },
    },
    active,
  );
  const finish = (err: unknown): void => {
    if (err) {
      const code = (err as { code?: unknown }).code;
      span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : 'Error');
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    }
    span.end();
  };
  const last = args[args.length - 1];
  if (typeof last === 'function') {
    const cb = last as (err: unknown, res: unknown) => void;
    return orig.apply(self, [...args.slice(0, -1), (err: unknown, res: unknown) => (finish(err), cb(err, res))]);
  }
  let result: unknown;
  try {
    result = orig.apply(self, args);
  } catch (err) {
    finish(err);
    throw err;
  }
  if (!(result instanceof Promise)) {
    span.end();
    return result;
  }
  return result.then(
    (res: unknown) => (finish(null), res),
    (err: unknown) => {
      finish(err);
      throw err;
    },
  );
}

function databaseOf(pool: pg.Pool): string | undefined {
  const opts = (pool as unknown as { options?: { database?: string; connectionString?: string } }).options;
  if (opts?.database) return opts.database;
  try {
    return opts?.connectionString ? decodeURIComponent(new URL(opts.connectionString).pathname.slice(1)) || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** Adds query spans to this pool (main.ts, when spans are recorded). */
export function traceQueries(pool: pg.Pool): void {
  const database = databaseOf(pool);
  const query = pool.query.bind(pool) as QueryFn;
  (pool as unknown as { query: QueryFn }).query = (...args: unknown[]) => traced(query, pool, args, database);

  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { connect: QueryFn }).connect = (...args: unknown[]) => {
    // the callback form is pg's own (pool.query); its query already has a span
    if (args.length > 0) return connect(...args);
    return (connect() as Promise<pg.PoolClient>).then((client) => {
      const c = client as pg.PoolClient & Traced;
      if (!c[WRAPPED]) {
        c[WRAPPED] = true;
        const clientQuery = c.query.bind(c) as QueryFn;
        (c as unknown as { query: QueryFn }).query = (...a: unknown[]) => (c[CHECKOUT] ? traced(clientQuery, c, a, database) : clientQuery(...a));
      }
      c[CHECKOUT] = true;
      const release = c.release;
      c.release = (err?: Error | boolean) => {
        c[CHECKOUT] = false;
        c.release = release;
        return release.call(c, err);
      };
      return c;
    });
  };
}
