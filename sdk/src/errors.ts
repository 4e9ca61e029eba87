/**
 * Typed errors. Every answer the API refuses carries `{"error":{"code","message","details"}}` and
 * an `X-Request-Id`; a `LinkplaneError` keeps all of them, plus the HTTP status and (429/503)
 * the `Retry-After` the server asked for. A subclass per kind of failure lets callers branch with
 * `instanceof`, and `code` (the API's stable machine code) lets them branch exactly.
 */
import type { components } from './generated/openapi.js';

/** The API's documented error codes (from the OpenAPI document); unknown future codes stay strings. */
export type ApiErrorCode = components['schemas']['Error']['error']['code'];

export interface LinkplaneErrorInit {
  status: number;
  code: ApiErrorCode | (string & {});
  message: string;
  details?: Record<string, unknown>;
  requestId?: string | null;
  retryAfterSec?: number | null;
  method?: string;
  url?: string;
  cause?: unknown;
}

export class LinkplaneError extends Error {
  /** HTTP status; 0 when no answer came (network failure, timeout). */
  readonly status: number;
  /** The API's machine code (`link_not_found`, `path_conflict`, …), or `network_error` / `timeout`. */
  readonly code: ApiErrorCode | (string & {});
  /** The API's `details` (e.g. `{field: "destination_url"}`), or `{}`. */
  readonly details: Record<string, unknown>;
  /** The request's `X-Request-Id`: quote it when you ask for help; it is on every server log line. */
  readonly requestId: string | null;
  /** Seconds the server asked to wait (Retry-After), when it did. */
  readonly retryAfterSec: number | null;
  readonly method: string | undefined;
  readonly url: string | undefined;

  constructor(init: LinkplaneErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.requestId = init.requestId ?? null;
    this.retryAfterSec = init.retryAfterSec ?? null;
    this.method = init.method;
    this.url = init.url;
  }

  /** The field the API named, when it named one (400/422). */
  get field(): string | undefined {
    return typeof this.details.field === 'string' ? this.details.field : undefined;
  }
}

/** 400 / 422: the request was refused as it is; `field` names what to fix. */
export class ValidationError extends LinkplaneError {}
/** 401: no key, or not a valid one. */
export class AuthenticationError extends LinkplaneError {}
/** 403: the key lacks a scope, a domain, or the power the request needs. */
export class PermissionError extends LinkplaneError {}
/** 404. */
export class NotFoundError extends LinkplaneError {}
/** 409: a conflict (`path_conflict`, `idempotency_in_flight`, …). */
export class ConflictError extends LinkplaneError {}
/** 429: rate limited; `retryAfterSec` says when to come back (the client already retried). */
export class RateLimitError extends LinkplaneError {}
/** 5xx (the client already retried). */
export class ServerError extends LinkplaneError {}
/** No answer: the network failed or the request timed out (the client already retried). */
export class NetworkError extends LinkplaneError {}

const BY_STATUS: Record<number, typeof LinkplaneError> = {
  400: ValidationError,
  401: AuthenticationError,
  403: PermissionError,
  404: NotFoundError,
  409: ConflictError,
  422: ValidationError,
  429: RateLimitError,
};

/** The error class for an HTTP status. */
export function errorClassFor(status: number): typeof LinkplaneError {
  if (status === 0) return NetworkError;
  return BY_STATUS[status] ?? (status >= 500 ? ServerError : LinkplaneError);
}

/** True when `err` is a LinkplaneError, and (if given) carries this code. */
export function isLinkplaneError(err: unknown, code?: ApiErrorCode | (string & {})): err is LinkplaneError {
  return err instanceof LinkplaneError && (code === undefined || err.code === code);
}
