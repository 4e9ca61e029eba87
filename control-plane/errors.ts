/**
 * Every API error code, declared once. The error table of docs/errors.md is checked against this
 * catalog by a test (control-plane/test/errors-documented.test.ts).
 */
import { defineErrors, type ErrorSpec } from '../shared/index.js';

export const ERROR_CATALOG = {
  validation_failed: { status: 400, message: 'the request is invalid' },
  invalid_json: { status: 400, message: 'the body is not valid JSON' },
  invalid_csv: { status: 400, message: 'the CSV body is malformed' },
  invalid_cursor: { status: 400, message: 'the cursor is invalid or expired' },
  invalid_range: { status: 400, message: 'the time range is invalid or too large for the interval' },
  invalid_idempotency_key: { status: 400, message: 'Idempotency-Key must be 1–255 visible ASCII characters' },
  malformed_request: { status: 400, message: 'the request is not well-formed HTTP' },
  unauthorized: { status: 401, message: 'a valid API key is required (Authorization: Bearer <key>)' },
  key_expired: { status: 401, message: 'the API key has expired' },
  insufficient_scope: { status: 403, message: 'the API key lacks the scope this call needs' },
  domain_not_allowed: { status: 403, message: 'the API key may not use this domain' },
  privilege_escalation: { status: 403, message: 'a key cannot create a key with more power than itself' },
  route_not_found: { status: 404, message: 'no such route' },
  link_not_found: { status: 404, message: 'link not found' },
  domain_not_found: { status: 404, message: 'domain not found' },
  key_not_found: { status: 404, message: 'API key not found' },
  workspace_not_found: { status: 404, message: 'workspace not found' },
  job_not_found: { status: 404, message: 'job not found' },
  webhook_endpoint_not_found: { status: 404, message: 'webhook endpoint not found' },
  webhook_delivery_not_found: { status: 404, message: 'webhook delivery not found' },
  idempotency_key_not_found: { status: 404, message: 'no stored response for this Idempotency-Key' },
  method_not_allowed: { status: 405, message: 'the route does not accept this method' },
  request_timeout: { status: 408, message: 'the request headers did not arrive in time' },
  path_conflict: { status: 409, message: 'the path is already used on this domain' },
  external_id_conflict: { status: 409, message: 'a live link already has this external_id' },
  hostname_taken: { status: 409, message: 'the hostname is already registered' },
  domain_in_use: { status: 409, message: 'the domain still has live links' },
  workspace_name_taken: { status: 409, message: 'a workspace already has this name' },
  job_not_cancellable: { status: 409, message: 'the job already finished' },
  idempotency_in_flight: { status: 409, message: 'a request with this Idempotency-Key is still in progress' },
  webhook_endpoint_disabled: { status: 409, message: 'the webhook endpoint is disabled; enable it first' },
  webhook_delivery_in_flight: { status: 409, message: 'the delivery is being sent right now; retry in a moment' },
  body_too_large: { status: 413, message: 'the body is larger than allowed' },
  uri_too_long: { status: 414, message: 'the URL is too long' },
  unsupported_media_type: { status: 415, message: 'unsupported Content-Type' },
  expectation_failed: { status: 417, message: 'only "Expect: 100-continue" is supported' },
  invalid_url: { status: 422, message: 'the URL is not allowed' },
  invalid_path: { status: 422, message: 'the path is not allowed' },
  invalid_hostname: { status: 422, message: 'the hostname is not valid' },
  invalid_routing: { status: 422, message: 'the routing rules are invalid' },
  invalid_event_filter: { status: 422, message: 'the event filter names an unknown event type' },
  idempotency_key_reused: { status: 422, message: 'this Idempotency-Key was used with a different request' },
  rate_limited: { status: 429, message: 'rate limit exceeded' },
  headers_too_large: { status: 431, message: 'the request headers are too large' },
  internal_error: { status: 500, message: 'internal error' },
  service_unavailable: { status: 503, message: 'a dependency is unavailable, retry later' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;
export const errors = defineErrors(ERROR_CATALOG);
