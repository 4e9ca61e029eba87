/**
 * A webhook endpoint that forwards linkplane's `click.created` and `qr.scan.created` events to
 * GA4 over the Measurement Protocol, built on the SDK's `nodeWebhookHandler` (raw body, signature
 * check, 400/401 for what is not linkplane's, 204 when the handler returns, 500 when it throws).
 *
 * Deliveries are at least once: an event id already forwarded is skipped. A GA4 failure throws,
 * so the delivery is answered 500 and linkplane retries it later; the id is remembered only once
 * GA4 took the event.
 */
import { nodeWebhookHandler, type WebhookEvent } from '@linkplane/sdk';
import { collectUrl, toMeasurementProtocol } from './measurement-protocol.js';

export interface ForwarderOptions {
  /** The endpoint's signing secrets (during a rotation: both). */
  secrets: string[];
  measurementId: string;
  apiSecret: string;
  /** GA4's collect URL; `https://www.google-analytics.com/debug/mp/collect` validates without recording. */
  endpoint?: string;
  /** Event ids already forwarded (production: a shared store with a TTL of a few days). */
  seen?: Set<string>;
}

export function ga4Forwarder(opts: ForwarderOptions): ReturnType<typeof nodeWebhookHandler> {
  const seen = opts.seen ?? new Set<string>();
  const url = collectUrl(opts.measurementId, opts.apiSecret, opts.endpoint);
  return nodeWebhookHandler(opts.secrets, async (event: WebhookEvent) => {
    if (seen.has(event.id)) return;
    const body = toMeasurementProtocol(event);
    if (!body) return; // another event type: nothing for GA4
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`GA4 answered ${res.status}`);
    seen.add(event.id);
  });
}
