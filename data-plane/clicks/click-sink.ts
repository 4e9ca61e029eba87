/**
 * The seam where click capture plugs in (click-ring.ts's writer is the real sink). The handler
 * copies the raw visit facts out of the request (only when the sink is enabled), writes the
 * redirect, then hands the decision's click facts and the visit facts to `click`, which must
 * return at once and never throw. Positional arguments: no object per click. The peer is passed as
 * the bytes uWS gives; the headers stay raw, and the collector (click-collector.ts) resolves the
 * client IP (TRUSTED_PROXIES) and everything else on the main thread, off the request path.
 */
import type { ClickFacts } from '../resolve.js';

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
