/**
 * What one attempt means (pure): succeeded, failed with a retry time, or dead — and what it
 * says about the endpoint (healthy, failing, gone).
 */
import { nextDelay, type RetryPolicy } from './retry-policy.js';

/** Stable codes stored in `webhook_attempts.error`. */
export type AttemptError =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns_failure'
  | 'blocked_address'
  | 'scheme_not_allowed'
  | 'tls_error'
  | 'network_error'
  | 'redirect_not_followed'
  | 'http_status'
  | 'endpoint_gone'
  | 'no_signing_secret';

export interface AttemptResult {
  startedAt: Date;
  durationMs: number;
  /** HTTP status, null when no response arrived. */
  statusCode: number | null;
  /** null on 2xx. */
  error: AttemptError | null;
  errorDetail: string | null;
  /** First 1 KB of the response body. */
  responseBody: string | null;
  /** From Retry-After on 429/503. */
  retryAfterMs: number | null;
}

export type Verdict =
  | { status: 'succeeded' }
  | { status: 'failed'; retryInMs: number }
  | { status: 'dead'; reason: 'retries_exhausted' | 'endpoint_gone' };

export type EndpointSignal = 'ok' | 'failed' | 'gone';

export function classifyStatus(status: number): AttemptError | null {
  if (status >= 200 && status < 300) return null;
  if (status === 410) return 'endpoint_gone';
  if (status >= 300 && status < 400) return 'redirect_not_followed';
  return 'http_status';
}

/** `cycleAttempts` counts this attempt (1 for the first attempt after creation or replay). */
export function judge(r: AttemptResult, cycleAttempts: number, policy: RetryPolicy, random: () => number = Math.random): { verdict: Verdict; endpoint: EndpointSignal } {
  if (r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300) return { verdict: { status: 'succeeded' }, endpoint: 'ok' };
  if (r.statusCode === 410) return { verdict: { status: 'dead', reason: 'endpoint_gone' }, endpoint: 'gone' };
  const honour = r.statusCode === 429 || r.statusCode === 503 ? r.retryAfterMs : null;
  const delay = nextDelay(policy, cycleAttempts, honour, random);
  if (delay === null) return { verdict: { status: 'dead', reason: 'retries_exhausted' }, endpoint: 'failed' };
  return { verdict: { status: 'failed', retryInMs: delay }, endpoint: 'failed' };
}
