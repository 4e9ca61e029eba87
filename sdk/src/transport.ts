/**
 * One request, done right: URL and query, auth, an Idempotency-Key on every mutating call (the
 * caller's, or a generated one kept for every retry of that call), a timeout per attempt, retries
 * of network errors, 429 and 5xx with backoff, and refusals turned into typed errors.
 * Standard fetch only: Node ≥ 20, Deno, browsers, workers.
 */
import { errorClassFor, LinkplaneError, NetworkError } from './errors.js';
import { backoffMs, parseRetryAfter, RETRY_DEFAULTS, retryableStatus, sleep, type RetryOptions } from './retry.js';

/** What fetch accepts as a body (named here: Node's types and the DOM's spell it differently). */
export type Body = NonNullable<RequestInit['body']>;

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ClientOptions {
  /** The control plane's base URL, e.g. `https://api.example.com` (a trailing `/v1` is fine). */
  apiUrl: string;
  /** An API key (`lp_…`), sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Retry policy, or `false` for none. */
  retry?: RetryOptions | false;
  /** Per-attempt timeout in ms (default 30 000; 0 = none). */
  timeoutMs?: number;
  /** Headers added to every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Called before each retry (logging, tests). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  method: Method;
  path: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** What failed: the status, or 0 for a network error. */
  status: number;
  code: string;
  idempotencyKey: string | null;
}

/** Per-call options every method takes. */
export interface CallOptions {
  /** Your Idempotency-Key for a mutating call (else one is generated; either way retries reuse it). */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** An X-Request-Id to send (1–128 of A-Z a-z 0-9 . _ : -). */
  requestId?: string;
}

export type RequestBody =
  | { json: unknown }
  /**
   * A body sent as is. A function makes a fresh body for each attempt (a Blob re-read), so the
   * call can be retried; a stream given directly cannot be sent twice, so it is tried once.
   */
  | { raw: Body | (() => Body); contentType: string; length?: number };

export interface RequestSpec extends CallOptions {
  method: Method;
  /** `/v1/...`, path parameters already filled in. */
  path: string;
  query?: Record<string, unknown>;
  body?: RequestBody;
  /** How to read a success body (default json). */
  as?: 'json' | 'bytes' | 'response';
}

export interface ApiResponse<T> {
  data: T;
  status: number;
  headers: Headers;
  requestId: string | null;
  /** True when the API answered from its idempotency store (an earlier call with this key). */
  replayed: boolean;
  /** The Idempotency-Key sent (mutating calls). */
  idempotencyKey: string | null;
}

const MUTATING: ReadonlySet<Method> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A fresh Idempotency-Key (a random UUID, from WebCrypto). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** `{a: 1, b: [x, y], c: undefined}` → `a=1&b=x&b=y`. */
export function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one instanceof Date ? one.toISOString() : String(one));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Path segment encoding for ids put into a path template. */
export const seg = (v: string): string => encodeURIComponent(v);

class AttemptTimeout extends Error {}

export class Transport {
  readonly baseUrl: string;
  private readonly retry: Required<RetryOptions>;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: ClientOptions) {
    if (!opts.apiUrl) throw new TypeError('apiUrl is required');
    if (!opts.apiKey) throw new TypeError('apiKey is required');
    this.baseUrl = opts.apiUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.retry = opts.retry === false ? { ...RETRY_DEFAULTS, retries: 0 } : { ...RETRY_DEFAULTS, ...opts.retry };
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async request<T>(spec: RequestSpec): Promise<ApiResponse<T>> {
    const url = this.baseUrl + spec.path + queryString(spec.query);
    const idempotencyKey = MUTATING.has(spec.method) ? (spec.idempotencyKey ?? newIdempotencyKey()) : null;
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.opts.headers,
      authorization: `Bearer ${this.opts.apiKey}`,
    };
    if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
    if (spec.requestId) headers['x-request-id'] = spec.requestId;
    let body: Body | (() => Body) | undefined;
    let replayable = true;
    if (spec.body && 'json' in spec.body) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.body.json);
    } else if (spec.body) {
      headers['content-type'] = spec.body.contentType;
      if (spec.body.length !== undefined) headers['content-length'] = String(spec.body.length);
      body = spec.body.raw;
      replayable = typeof body === 'function' || !(typeof ReadableStream !== 'undefined' && body instanceof ReadableStream);
    }

    for (let attempt = 0; ; attempt++) {
      let failure: LinkplaneError;
      try {
        const res = await this.attempt(url, spec, headers, typeof body === 'function' ? body() : body);
        if (res.ok) return await this.success<T>(res, spec, idempotencyKey);
        failure = await this.failure(res, spec, url);
        if (!retryableStatus(failure.status, failure.code)) throw failure;
      } catch (err) {
        if (err instanceof LinkplaneError && !(err instanceof NetworkError)) throw err;
        if (spec.signal?.aborted) throw spec.signal.reason;
        failure = err instanceof NetworkError ? err : this.networkError(err, spec, url);
      }
      const retryAfter = failure.retryAfterSec;
      const canRetry = attempt < this.retry.retries && replayable && (retryAfter === null || retryAfter * 1000 <= this.retry.maxRetryAfterMs);
      if (!canRetry) throw failure;
      const delayMs = backoffMs(attempt, this.retry, retryAfter);
      this.opts.onRetry?.({ method: spec.method, path: spec.path, attempt: attempt + 1, delayMs, status: failure.status, code: failure.code, idempotencyKey });
      await sleep(delayMs, spec.signal);
    }
  }

  private async attempt(url: string, spec: RequestSpec, headers: Record<string, string>, body: Body | undefined): Promise<Response> {
    const timeoutMs = this.opts.timeoutMs ?? 30_000;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(spec.signal!.reason);
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeoutMs > 0 ? setTimeout(() => ctl.abort(new AttemptTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs) : undefined;
    try {
      const init: RequestInit & { duplex?: 'half' } = { method: spec.method, headers, signal: ctl.signal };
      if (body !== undefined) {
        init.body = body;
        // a streamed body (fetch needs to be told it may not be buffered)
        if (typeof ReadableStream !== 'undefined' && body instanceof ReadableStream) init.duplex = 'half';
      }
      const res = await this.fetchImpl(url, init);
      // a body read that times out later still counts as this attempt's failure
      if (spec.as === 'response' && res.ok) return res;
      const buf = await res.arrayBuffer();
      return new Response(res.status === 204 || res.status === 304 ? null : buf, { status: res.status, statusText: res.statusText, headers: res.headers });
    } catch (err) {
      if (ctl.signal.reason instanceof AttemptTimeout) {
        throw new NetworkError({ status: 0, code: 'timeout', message: ctl.signal.reason.message, method: spec.method, url, cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async success<T>(res: Response, spec: RequestSpec, idempotencyKey: string | null): Promise<ApiResponse<T>> {
    let data: unknown;
    if (spec.as === 'response') data = res;
    else if (spec.as === 'bytes') data = new Uint8Array(await res.arrayBuffer());
    else {
      const text = await res.text();
      data = text === '' ? undefined : JSON.parse(text);
    }
    return {
      data: data as T,
      status: res.status,
      headers: res.headers,
      requestId: res.headers.get('x-request-id'),
      replayed: res.headers.get('idempotent-replayed') === 'true',
      idempotencyKey,
    };
  }

  private async failure(res: Response, spec: RequestSpec, url: string): Promise<LinkplaneError> {
    const text = await res.text().catch(() => '');
    let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error;
    } catch {
      error = undefined;
    }
    const Class = errorClassFor(res.status);
    return new Class({
      status: res.status,
      code: typeof error?.code === 'string' ? error.code : `http_${res.status}`,
      message: typeof error?.message === 'string' ? error.message : `${spec.method} ${spec.path} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      details: error?.details && typeof error.details === 'object' ? (error.details as Record<string, unknown>) : {},
      requestId: res.headers.get('x-request-id'),
      retryAfterSec: parseRetryAfter(res.headers.get('retry-after')),
      method: spec.method,
      url,
    });
  }

  private networkError(err: unknown, spec: RequestSpec, url: string): NetworkError {
    const message = err instanceof Error ? err.message : String(err);
    return new NetworkError({ status: 0, code: 'network_error', message: `${spec.method} ${spec.path}: ${message}`, method: spec.method, url, cause: err });
  }
}
