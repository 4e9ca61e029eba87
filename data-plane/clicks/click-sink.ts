/**
 * The seam where click capture plugs in (click-ring.ts's writer is the real sink). The handler
 * copies the raw visit facts out of the request (only when the sink is enabled), writes the
 * redirect, then hands the decision's click facts and the visit facts to `click`, which must
 * return at once and never throw. Positional arguments: no object per click.
 */
import type { Ip } from '../ip.js';
import type { ClickFacts } from '../resolve.js';

/**
 * Raw facts of the visit, copied out of the request before the answer is written (uWS requests
 * and responses must not be touched after that). Only the peer is in its final form (read from uWS
 * as bytes, shared with the rules that need it); the headers are kept raw, and the buffer resolves
 * the client IP (TRUSTED_PROXIES) and everything else later, off the request path.
 */
export interface VisitFacts {
  /** The TCP peer's address (null when uWS gave none that parses). */
  peer: Ip | null;
  /** The raw `X-Forwarded-For` header ('' when no proxy is trusted). */
  forwardedFor: string;
  userAgent: string;
  referer: string;
  acceptLanguage: string;
}

export interface ClickSink {
  /** When false the handler skips reading the visit facts entirely. */
  readonly enabled: boolean;
  /** `peer`: the TCP peer's raw address bytes (4 or 16), as uWS gives them, or null. */
  click(click: ClickFacts, peer: Uint8Array | null, forwardedFor: string, userAgent: string, referer: string, acceptLanguage: string): void;
}

/** CLICK_CAPTURE off: nothing is gathered, nothing is kept. */
export const noopClickSink: ClickSink = {
  enabled: false,
  click() {},
};
