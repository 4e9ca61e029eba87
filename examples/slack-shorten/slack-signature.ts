/**
 * Slack's request signing (v0): `X-Slack-Signature: v0=<hex hmac_sha256(signing secret,
 * "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`. Checked on the raw bytes before anything
 * is parsed, in constant time, and only within a replay window around the request's timestamp.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's own recommendation: refuse requests more than five minutes old (or ahead). */
export const REPLAY_WINDOW_SECONDS = 300;

export type SlackSignatureFailure = 'missing_headers' | 'stale_timestamp' | 'bad_signature';

export function slackSignature(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`;
}

/** null when the request is Slack's, else why not. `nowSec` defaults to the clock. */
export function checkSlackSignature(
  signingSecret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: Buffer,
  nowSec: number = Math.floor(Date.now() / 1000),
): SlackSignatureFailure | null {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return 'missing_headers';
  if (Math.abs(nowSec - Number(timestamp)) > REPLAY_WINDOW_SECONDS) return 'stale_timestamp';
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, rawBody));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected) ? null : 'bad_signature';
}
