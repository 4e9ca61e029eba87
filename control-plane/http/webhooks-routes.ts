import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ControlPlaneConfig } from '../config.js';
import type { Pool } from '../db/pool.js';
import { errors } from '../errors.js';
import { instantIso } from '../instant.js';
import type { SecretBox } from '../secrets/index.js';
import {
  assertWorkspaceWide, createEndpoint, deleteEndpoint, getDelivery, getEndpoint, listDeliveries, listEndpoints, replayDelivery,
  replayEndpoint, rotateSecret, sendTestEvent, toEndpointResource, updateEndpoint, webhookSettings, type ReplayStatus,
} from '../webhooks/index.js';
import { decodeIdCursor, encodeIdCursor } from './cursor.js';
import { ENVELOPE_SCHEMA, EVENT_TYPES, EventTypeList } from './event-types.js';
import { recordAudit } from '../audit/index.js';
import { actorOf, authOf } from './request-context.js';
import { commitAndRespond } from './respond.js';
import { errorResponses, Id, IdParams, Nullable, WithDefault } from './schemas.js';

const Timestamp = Type.String({ format: 'date-time' });
const DateOrTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}([Tt ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?([Zz]|[+-]\\d{2}:?\\d{2})?)?$',
  description: 'ISO 8601 date or date-time (UTC when no offset)',
});
const EventPattern = Type.String({ minLength: 1, maxLength: 64, description: 'an event type (link.created), a prefix wildcard (link.*) or *' });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'free-form JSON, at most 16 KB' });

const endpointFields = {
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'https URL (http and private addresses only with WEBHOOK_ALLOW_PRIVATE=true)' }),
  events: Type.Array(EventPattern, { minItems: 1, maxItems: 50, description: 'event filter; default ["*"]' }),
  description: Nullable(Type.String({ maxLength: 500 })),
  enabled: Type.Boolean(),
  // `nullable` rather than anyOf [integer, null]: with type coercion on, ajv would turn 0 into null
  max_concurrency: Type.Unsafe<number | null>({
    type: 'integer', nullable: true, minimum: 1, maximum: 1000,
    description: 'deliveries in flight to this endpoint at once; null: WEBHOOK_ENDPOINT_CONCURRENCY',
  }),
  metadata: Metadata,
};

const EndpointCreate = Type.Object(
  {
    url: endpointFields.url,
    events: Type.Optional(endpointFields.events),
    description: Type.Optional(endpointFields.description),
    enabled: Type.Optional(endpointFields.enabled),
    max_concurrency: Type.Optional(endpointFields.max_concurrency),
    metadata: Type.Optional(endpointFields.metadata),
  },
  { additionalProperties: false },
);

const EndpointUpdate = Type.Object(
  {
    url: Type.Optional(endpointFields.url),
    events: Type.Optional(endpointFields.events),
    description: Type.Optional(endpointFields.description),
    enabled: Type.Optional(endpointFields.enabled),
    max_concurrency: Type.Optional(endpointFields.max_concurrency),
    metadata: Type.Optional(endpointFields.metadata),
  },
  { additionalProperties: false, minProperties: 1 },
);

const endpointProps = {
  id: Id('whe'),
  url: Type.String(),
  events: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  enabled: Type.Boolean(),
  disabled_reason: Nullable(Type.Union([Type.Literal('manual'), Type.Literal('gone'), Type.Literal('failing')], { description: 'gone: the receiver answered 410; failing: every attempt failed for WEBHOOK_DISABLE_AFTER' })),
  disabled_at: Nullable(Timestamp),
  max_concurrency: Nullable(Type.Integer()),
  failing_since: Nullable(Timestamp),
  metadata: Metadata,
  secrets: Type.Array(
    Type.Object({ key_id: Id('whk', 'the k= of X-Signature'), created_at: Timestamp, expires_at: Nullable(Timestamp) }),
    { description: 'signing secrets not yet retired, newest first (values are shown only when created)' },
  ),
  created_at: Timestamp,
  updated_at: Timestamp,
};
const Endpoint = Type.Object(endpointProps);
const EndpointWithSecret = Type.Object({
  ...endpointProps,
  secret: Nullable(Type.String({ description: 'whsec_… — shown once; store it to verify signatures. null in a replay or recover (see `redacted`)' })),
  secret_key_id: Id('whk', 'the key id of this secret'),
  redacted: Type.Optional(Type.Array(Type.String(), { description: 'in a replay or recover: the secret fields left out (null)' })),
});

const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('dead')], {
  description: 'pending: not yet tried (or replayed); failed: a retry is scheduled; dead: dead-lettered; succeeded: a 2xx answered',
});
const Attempt = Type.Object({
  attempt: Type.Integer(),
  started_at: Timestamp,
  finished_at: Nullable(Timestamp),
  duration_ms: Nullable(Type.Integer()),
  status_code: Nullable(Type.Integer()),
  error: Nullable(Type.String({ description: 'timeout, connection_refused, connection_reset, dns_failure, blocked_address, scheme_not_allowed, tls_error, network_error, redirect_not_followed, http_status, endpoint_gone, interrupted' })),
  error_detail: Nullable(Type.String()),
  response_body: Nullable(Type.String({ description: 'the first 1 KB' })),
});
const deliveryProps = {
  id: Id('whd'),
  endpoint_id: Id('whe'),
  event_id: Id('evt'),
  event_type: Type.String(),
  status: DeliveryStatus,
  in_flight: Type.Boolean(),
  attempt_count: Type.Integer(),
  next_attempt_at: Nullable(Timestamp),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  delivered_at: Nullable(Timestamp),
  dead_at: Nullable(Timestamp),
  attempts: Type.Array(Attempt),
};
const Delivery = Type.Object(deliveryProps);
const DeliveryDetail = Type.Object({
  ...deliveryProps,
  event: Type.Object({ id: Id('evt'), type: Type.String(), occurred_at: Timestamp, data: Type.Unknown() }),
});

const DeliveryListQuery = Type.Object(
  {
    status: Type.Optional(DeliveryStatus),
    endpoint_id: Type.Optional(Id('whe')),
    event_type: Type.Optional(Type.String({ maxLength: 64 })),
    event_id: Type.Optional(Id('evt')),
    from: Type.Optional(DateOrTime),
    to: Type.Optional(DateOrTime),
    limit: WithDefault(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

const ReplayStatusEnum = Type.Union([Type.Literal('failed'), Type.Literal('dead'), Type.Literal('succeeded'), Type.Literal('missing')]);
const ReplayBody = Type.Object(
  {
    from: Type.Optional(DateOrTime),
    to: Type.Optional(DateOrTime),
    status: Type.Optional(Type.Union([ReplayStatusEnum, Type.Array(ReplayStatusEnum, { minItems: 1, maxItems: 4, uniqueItems: true })], {
      description: 'which deliveries to send again (default dead); missing: events of the range this endpoint never received',
    })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'at most this many per call (default 10 000); call again while more is true' })),
  },
  { additionalProperties: false },
);
const RotateBody = Type.Object(
  { overlap_hours: Type.Optional(Type.Number({ minimum: 0, maximum: 720, description: 'how long the current secrets keep signing (default WEBHOOK_SECRET_OVERLAP_HOURS)' })) },
  { additionalProperties: false },
);

/** POST calls whose body is optional: no body means `{}`. */
const emptyBodyIsObject = async (req: { body: unknown }) => {
  if (req.body === undefined || req.body === null) req.body = {};
};

/** Date-only values mean midnight UTC. */
const dateParam = (v: string | undefined, field: string, where: 'querystring' | 'body'): string | undefined =>
  v === undefined ? undefined : instantIso(v, field, where);

function range(from: string | undefined, to: string | undefined, where: 'querystring' | 'body') {
  const r = { from: dateParam(from, 'from', where), to: dateParam(to, 'to', where) };
  if (r.from && r.to && r.from >= r.to) throw errors.validation_failed({ field: 'to', in: where, reason: 'before_from' }, 'to must be after from');
  return r;
}

export const webhooksRoutes =
  (pool: Pool, config: ControlPlaneConfig, secrets: SecretBox): FastifyPluginAsyncTypebox =>
  async (app) => {
    const tags = ['webhooks'];
    const settings = webhookSettings(config);
    const policy = { allowPrivate: settings.allowPrivate };
    const errs = errorResponses(400, 401, 403, 404, 409, 422, 429);
    const readOnly = errorResponses(400, 401, 403, 404, 429);

    app.post('/v1/webhooks/endpoints', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, operationId: 'createWebhookEndpoint', summary: 'Register a webhook endpoint (its signing secret is returned once)',
        body: EndpointCreate, response: { 201: EndpointWithSecret, ...errs },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 201, async (tx) => {
        const { row, secret } = await createEndpoint(tx, actor, req.body, policy, secrets);
        return { ...toEndpointResource(row), secret: secret.secret, secret_key_id: secret.id };
      }, (e) => ({ location: `/v1/webhooks/endpoints/${e.id}` }), ['secret']);
    });

    app.get('/v1/webhooks/event-types', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, operationId: 'listWebhookEventTypes', summary: 'The webhook event catalog: each type, when it is sent, and the JSON Schema of its data',
        response: { 200: EventTypeList, ...errorResponses(401, 403, 429) },
      },
    }, async () => ({ envelope: ENVELOPE_SCHEMA, data: EVENT_TYPES }));

    app.get('/v1/webhooks/endpoints', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, operationId: 'listWebhookEndpoints', summary: 'List webhook endpoints (newest first)',
        querystring: Type.Object(
          { enabled: Type.Optional(Type.Boolean()), limit: WithDefault(Type.Integer({ minimum: 1, maximum: 200, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 512 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(Endpoint), next_cursor: Nullable(Type.String()) }), ...readOnly },
      },
    }, async (req) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      const after = req.query.cursor ? decodeIdCursor(req.query.cursor, 'whe') : null;
      const rows = await listEndpoints(pool, auth, { limit: req.query.limit + 1, after, enabled: req.query.enabled });
      const more = rows.length > req.query.limit;
      if (more) rows.pop();
      return { data: rows.map(toEndpointResource), next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    });

    app.get('/v1/webhooks/endpoints/:id', {
      config: { scope: 'webhooks:read' },
      schema: { tags, operationId: 'getWebhookEndpoint', summary: 'Get a webhook endpoint', params: IdParams('whe'), response: { 200: Endpoint, ...readOnly } },
    }, async (req) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      return toEndpointResource(await getEndpoint(pool, auth, req.params.id));
    });

    app.patch('/v1/webhooks/endpoints/:id', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, operationId: 'updateWebhookEndpoint', summary: 'Update a webhook endpoint (enabled: true re-enables one disabled by 410 or failures)',
        params: IdParams('whe'), body: EndpointUpdate, response: { 200: Endpoint, ...errs },
      },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => toEndpointResource(await updateEndpoint(tx, actor, req.params.id, req.body, policy)));
    });

    app.delete('/v1/webhooks/endpoints/:id', {
      config: { scope: 'webhooks:write' },
      schema: { tags, operationId: 'deleteWebhookEndpoint', summary: 'Delete a webhook endpoint (waiting deliveries are closed)', params: IdParams('whe'), response: { 200: Endpoint, ...errs } },
    }, async (req, reply) => {
      const actor = actorOf(req);
      return commitAndRespond(req, reply, pool, 200, async (tx) => toEndpointResource(await deleteEndpoint(tx, actor, req.params.id)));
    });

    app.post('/v1/webhooks/endpoints/:id/secrets/rotate', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, operationId: 'rotateWebhookSecret', summary: 'Add a new signing secret; the current ones keep signing for the overlap window, then retire',
        params: IdParams('whe'), body: RotateBody, response: { 200: EndpointWithSecret, ...errs },
      },
      preValidation: emptyBodyIsObject,
    }, async (req, reply) => {
      const actor = actorOf(req);
      const overlap = req.body.overlap_hours ?? settings.overlapHours;
      return commitAndRespond(req, reply, pool, 200, async (tx) => {
        const { row, secret } = await rotateSecret(tx, actor, req.params.id, overlap, secrets);
        return { ...toEndpointResource(row), secret: secret.secret, secret_key_id: secret.id };
      }, undefined, ['secret']);
    });

    app.post('/v1/webhooks/endpoints/:id/test', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, operationId: 'testWebhookEndpoint', summary: 'Send a webhook.ping event to this endpoint; poll the returned delivery for the outcome',
        params: IdParams('whe'), response: { 202: Delivery, ...errs },
      },
    }, async (req, reply) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      return commitAndRespond(req, reply, pool, 202, async (tx) => {
        const d = await sendTestEvent(tx, auth, req.params.id);
        await recordAudit(tx, actorOf(req), 'webhook.endpoint.test', { type: 'webhook_endpoint', id: req.params.id }, { after: { delivery_id: d.id } });
        return d;
      }, (d) => ({ location: `/v1/webhooks/deliveries/${d.id}` }));
    });

    app.post('/v1/webhooks/endpoints/:id/replay', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, operationId: 'replayWebhookEndpoint', summary: "Send an endpoint's deliveries of a time range again (by status), or the events it missed",
        params: IdParams('whe'), body: ReplayBody,
        response: { 202: Type.Object({ replayed: Type.Integer(), created: Type.Integer(), more: Type.Boolean() }), ...errs },
      },
      preValidation: emptyBodyIsObject,
    }, async (req, reply) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      const b = req.body;
      const r = range(b.from, b.to, 'body');
      const statuses: ReplayStatus[] = b.status === undefined ? ['dead'] : Array.isArray(b.status) ? b.status : [b.status];
      return commitAndRespond(req, reply, pool, 202, async (tx) => {
        const result = await replayEndpoint(tx, auth, req.params.id, { ...r, statuses, limit: b.limit ?? 10_000 });
        await recordAudit(tx, actorOf(req), 'webhook.endpoint.replay', { type: 'webhook_endpoint', id: req.params.id }, {
          after: { statuses, from: b.from ?? null, to: b.to ?? null, replayed: result.replayed, created: result.created },
        });
        return result;
      });
    });

    app.get('/v1/webhooks/deliveries', {
      config: { scope: 'webhooks:read' },
      schema: {
        tags, operationId: 'listWebhookDeliveries', summary: 'List deliveries with every attempt (newest first, filterable)',
        querystring: DeliveryListQuery,
        response: { 200: Type.Object({ data: Type.Array(Delivery), next_cursor: Nullable(Type.String()) }), ...readOnly },
      },
    }, async (req) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      const q = req.query;
      const after = q.cursor ? decodeIdCursor(q.cursor, 'whd') : null;
      const rows = await listDeliveries(pool, auth, {
        status: q.status, endpoint_id: q.endpoint_id, event_type: q.event_type, event_id: q.event_id, ...range(q.from, q.to, 'querystring'),
        limit: q.limit + 1, after,
      });
      const more = rows.length > q.limit;
      if (more) rows.pop();
      return { data: rows, next_cursor: more ? encodeIdCursor(rows[rows.length - 1]!.id) : null };
    });

    app.get('/v1/webhooks/deliveries/:id', {
      config: { scope: 'webhooks:read' },
      schema: { tags, operationId: 'getWebhookDelivery', summary: 'Get a delivery with its attempts and its event', params: IdParams('whd'), response: { 200: DeliveryDetail, ...readOnly } },
    }, async (req) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      return getDelivery(pool, auth, req.params.id);
    });

    app.post('/v1/webhooks/deliveries/:id/replay', {
      config: { scope: 'webhooks:write' },
      schema: {
        tags, operationId: 'replayWebhookDelivery', summary: 'Send a delivery again now (same event id, fresh retry schedule)',
        params: IdParams('whd'), response: { 202: Delivery, ...errs },
      },
    }, async (req, reply) => {
      const auth = authOf(req);
      assertWorkspaceWide(auth);
      return commitAndRespond(req, reply, pool, 202, async (tx) => {
        const d = await replayDelivery(tx, auth, req.params.id);
        await recordAudit(tx, actorOf(req), 'webhook.delivery.replay', { type: 'webhook_delivery', id: d.id }, { after: { endpoint_id: d.endpoint_id } });
        return d;
      });
    });
  };
