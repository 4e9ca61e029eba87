/**
 * The seam where click capture plugs in (click-ring.ts's writer is the real sink). The handler
 * copies the raw visit facts out of the request (only when the sink is enabled), writes the
 * redirect, then hands the decision's click facts and the visit facts to `click`, which must
 * return at once and never throw. Positional arguments: no object per click. The peer is passed as
 * the bytes uWS gives; the headers stay raw, and the collector (click-collector.ts) resolves the
 * client IP (TRUSTED_PROXIES) and everything else on the main thread, off the request path.
 */
import type { ClickFacts } from '../resolve.js';

/**
 * Where a stored link's ids lie in the bytes the store read (link-record.ts): the handler passes
 * the link it redirected for, and the sink copies the ids from there (no strings made for them).
 */
export interface StoredIds {
  readonly value: Buffer | null;
  readonly idAt: number;
  readonly wsAt: number;
  readonly wsEnd: number;
}

export interface ClickSink {
  /** When false the handler skips reading the visit facts entirely. */
  readonly enabled: boolean;
  /**
   * `peer`: the TCP peer's raw address bytes (4 or 16), as uWS gives them, or null. `stored`: the
   * link as the store read it in this request; when given (and its `value` is not null) the link
   * and workspace ids are taken from its bytes, not from `click.linkId` / `click.workspaceId`
   * (which the handler leaves '').
   */
  click(click: ClickFacts, peer: Uint8Array | null, forwardedFor: string, userAgent: string, referer: string, acceptLanguage: string, stored?: StoredIds | null): void;
}

/** CLICK_CAPTURE off: nothing is gathered, nothing is kept. */
export const noopClickSink: ClickSink = {
  enabled: false,
  click() {},
};
