/**
 * The seam where click capture plugs in (the clicks issue builds the buffer, spool and shipper).
 * The redirect is written first; then the handler hands the decision's click facts, plus the raw
 * visit facts only a sink needs (read from the request only when the sink is enabled), to
 * `capture`, which must return at once and never throw.
 */
import type { ClickFacts } from '../resolve.js';

/** Raw facts of the visit, copied out of the request (uWS requests die with the handler). */
export interface VisitFacts {
  /** Client IP as the node determined it (TRUSTED_PROXIES applied), or the peer address. */
  ip: string;
  userAgent: string;
  referer: string;
  acceptLanguage: string;
}

export interface ClickSink {
  /** When false the handler skips reading the visit facts entirely. */
  readonly enabled: boolean;
  capture(click: ClickFacts, visit: VisitFacts): void;
}

/** Until click capture lands: nothing is gathered, nothing is kept. */
export const noopClickSink: ClickSink = {
  enabled: false,
  capture() {},
};
