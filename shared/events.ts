/**
 * Event types that cross process boundaries: click events (node → control plane over NATS)
 * and the webhook event catalog (control plane → receivers).
 */

export const CLICK_EVENT_VERSION = 1 as const;

/** One click or QR scan, as captured on a node. Never carries a raw IP or a full user agent. */
export interface ClickEvent {
  v: typeof CLICK_EVENT_VERSION;
  /** UUIDv7, generated on the node; the Postgres primary key (stored exactly once). */
  id: string;
  /** Epoch ms; always the timestamp inside `id` (shared/click-id.ts), which is what the wire carries. */
  occurredAt: number;
  linkId: string;
  workspaceId: string;
  domain: string;
  path: string;
  /** The destination actually redirected to. */
  destination: string;
  ruleId: string | null;
  variantId: string | null;
  country: string | null;
  deviceClass: string | null;
  os: string | null;
  browser: string | null;
  /** Host of the Referer header only: no path, no query. */
  referrerHost: string | null;
  /** Primary language of Accept-Language (highest q). */
  language: string | null;
  bot: boolean;
  qr: boolean;
  utm: Record<string, string> | null;
  nodeId: string;
  /** HMAC-SHA256(daily salt, IP truncated to /24 or /48 + user agent), first 16 bytes, hex (32 chars). */
  visitorHash: string;
}

export interface ClickBatch {
  v: typeof CLICK_EVENT_VERSION;
  nodeId: string;
  /** Also the Nats-Msg-Id: a re-sent batch is stored once by JetStream (and every click once by its id). */
  batchId: string;
  events: ClickEvent[];
}

export const WEBHOOK_EVENT_TYPES = [
  'link.created',
  'link.updated',
  'link.disabled',
  'link.deleted',
  'link.approved',
  'link.rejected',
  'click.created',
  'qr.scan.created',
  'rule.variant_chosen',
  'job.succeeded',
  'job.failed',
  'webhook.delivery.failed',
  'webhook.ping',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The envelope every webhook delivery carries. */
export interface WebhookEnvelope<T = unknown> {
  id: string;
  type: WebhookEventType;
  occurred_at: string;
  data: T;
  attempt: number;
}
