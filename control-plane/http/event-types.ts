/**
 * The webhook event catalog (GET /v1/webhooks/event-types): every type a receiver can get, when it
 * is sent, whether an endpoint can subscribe to it, and the JSON Schema of its `data`. The schemas
 * are the ones the API answers with (a link event's data is the link, a job event's the job);
 * event-types.test.ts checks real payloads against them.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from '../../shared/index.js';
import { SUBSCRIBABLE_EVENT_TYPES } from '../webhooks/index.js';
import { Job } from './job-schemas.js';
import { Link } from '../links/link-schema.js';
import { Click, Id, Nullable, Timestamp } from './schemas.js';

/** A click webhook's data: the stored click as the API answers it, without `bot` (bots send none), with its short URL. */
export const ClickEventData = Type.Composite(
  [Type.Omit(Click, ['bot']), Type.Object({ short_url: Type.String() })],
  { additionalProperties: false },
);

export const VariantChosenData = Type.Object({
  click_id: Id('clk'),
  occurred_at: Timestamp,
  link_id: Id('ln'),
  rule_id: Nullable(Type.String()),
  variant_id: Nullable(Type.String()),
  destination: Type.String(),
  country: Nullable(Type.String()),
  device: Nullable(Type.String()),
}, { additionalProperties: false });

export const DeliveryFailedData = Type.Object({
  delivery_id: Id('whd'),
  endpoint_id: Id('whe'),
  endpoint_url: Type.String(),
  event_id: Id('evt'),
  event_type: Type.String(),
  attempts: Type.Integer(),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  reason: Type.Union([Type.Literal('retries_exhausted'), Type.Literal('endpoint_gone'), Type.Literal('endpoint_disabled')]),
}, { additionalProperties: false });

export const PingData = Type.Object({
  endpoint_id: Id('whe'),
  url: Type.String(),
  message: Type.String(),
}, { additionalProperties: false });

/** A schema as plain JSON (no TypeBox symbols, no `$id` a client could not resolve). */
function plain(schema: TSchema): Record<string, unknown> {
  const out = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  delete out.$id;
  return out;
}

const CATALOG: Record<WebhookEventType, { description: string; data: TSchema }> = {
  'link.created': { description: 'a link was created through the API', data: Link },
  'link.updated': { description: 'a link was changed through the API', data: Link },
  'link.disabled': { description: 'a link became disabled (also sent with its link.created / link.updated)', data: Link },
  'link.deleted': { description: 'a link was deleted through the API', data: Link },
  'link.approved': { description: 'a pending link was approved (POST /v1/links/{id}/approve): nodes serve it now', data: Link },
  'link.rejected': { description: 'a pending link was rejected: a new link is deleted, a re-pointed one keeps its approved values', data: Link },
  'click.created': { description: 'a (non-bot) click was stored', data: ClickEventData },
  'qr.scan.created': { description: 'a (non-bot) QR scan was stored (not also a click.created)', data: ClickEventData },
  'rule.variant_chosen': { description: 'a routing rule or A/B variant chose the destination of a click', data: VariantChosenData },
  'job.succeeded': { description: 'a bulk job finished succeeded or partially_succeeded', data: Job },
  'job.failed': { description: 'a bulk job finished failed or cancelled', data: Job },
  'webhook.delivery.failed': { description: 'a delivery was dead-lettered', data: DeliveryFailedData },
  'webhook.ping': { description: 'POST /v1/webhooks/endpoints/{id}/test (sent to that endpoint only)', data: PingData },
};

export interface EventTypeEntry {
  type: WebhookEventType;
  description: string;
  subscribable: boolean;
  data_schema: Record<string, unknown>;
}

/** The catalog in WEBHOOK_EVENT_TYPES order (built once). */
export const EVENT_TYPES: EventTypeEntry[] = WEBHOOK_EVENT_TYPES.map((type) => ({
  type,
  description: CATALOG[type].description,
  subscribable: SUBSCRIBABLE_EVENT_TYPES.includes(type),
  data_schema: plain(CATALOG[type].data),
}));

/** The schema of a data payload, as TypeBox (for tests). */
export const eventDataSchema = (type: WebhookEventType): TSchema => CATALOG[type].data;

export const EventTypeList = Type.Object({
  envelope: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of the body every delivery carries: {id, type, occurred_at, data, attempt}' }),
  data: Type.Array(Type.Object({
    type: Type.String(),
    description: Type.String(),
    subscribable: Type.Boolean({ description: 'false: cannot be named in an endpoint\'s events filter' }),
    data_schema: Type.Record(Type.String(), Type.Unknown(), { description: 'JSON Schema of the event\'s `data`' }),
  })),
});

export const ENVELOPE_SCHEMA = plain(Type.Object({
  id: Id('evt', 'the event id (`evt_` + 26 Crockford base32 characters): the same for every attempt and replay (dedupe on it)'),
  type: Type.Union(WEBHOOK_EVENT_TYPES.map((t) => Type.Literal(t))),
  occurred_at: Timestamp,
  data: Type.Record(Type.String(), Type.Unknown(), { description: 'see data_schema of the type' }),
  attempt: Type.Integer({ minimum: 1 }),
}, { additionalProperties: false }));
