/**
 * The link resource's schemas (TypeBox): request bodies, the resource, the list query. The single
 * source for validation, the OpenAPI document and the service types below (derived, not copied).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DateOrTime, Id, Nullable, RedirectStatus, Routing, Timestamp, UrlString, Utm, WithDefault } from '../http/schemas.js';

const Tag = Type.String({ minLength: 1, maxLength: 64 });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'free-form JSON, at most 16 KB' });

const Path = Type.String({ minLength: 1, maxLength: 1024, description: 'vanity path; generated (7+ base62 chars) when absent' });
export const LinkStatus = Type.Union([Type.Literal('live'), Type.Literal('pending')], { description: 'pending links answer 404 until live' });
const ExternalId = Type.String({ minLength: 1, maxLength: 256, description: 'your id for the link (unique per workspace)' });

export const LinkCreate = Type.Object(
  {
    domain: Type.String({ minLength: 1, maxLength: 253 }),
    path: Type.Optional(Path),
    destination_url: UrlString,
    utm: Type.Optional(Nullable(Utm)),
    routing: Type.Optional(Nullable(Routing)),
    redirect_status: Type.Optional(Nullable(RedirectStatus)),
    forward_query: Type.Optional(Type.Boolean({ description: "append the visitor's query string to the destination" })),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
    expires_at: Type.Optional(Nullable(Timestamp)),
    disabled: Type.Optional(Type.Boolean()),
    status: Type.Optional(LinkStatus),
    metadata: Type.Optional(Metadata),
    external_id: Type.Optional(Nullable(ExternalId)),
    on_conflict: Type.Optional(Type.Union([Type.Literal('error'), Type.Literal('suffix')], { description: 'suffix: deal → deal-2, deal-3, …' })),
  },
  { additionalProperties: false },
);

export const LinkUpdate = Type.Object(
  {
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    path: Type.Optional(Path),
    destination_url: Type.Optional(UrlString),
    utm: Type.Optional(Nullable(Utm)),
    routing: Type.Optional(Nullable(Routing)),
    redirect_status: Type.Optional(Nullable(RedirectStatus)),
    forward_query: Type.Optional(Type.Boolean()),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
    expires_at: Type.Optional(Nullable(Timestamp)),
    disabled: Type.Optional(Type.Boolean()),
    status: Type.Optional(LinkStatus),
    metadata: Type.Optional(Metadata),
    external_id: Type.Optional(Nullable(ExternalId)),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Link = Type.Object(
  {
    id: Id('ln'),
    domain: Type.String(),
    path: Type.String(),
    short_url: Type.String(),
    destination_url: Type.String(),
    utm: Nullable(Utm),
    routing: Nullable(Type.Record(Type.String(), Type.Unknown())),
    redirect_status: Nullable(RedirectStatus),
    forward_query: Type.Boolean(),
    tags: Type.Array(Type.String()),
    expires_at: Nullable(Timestamp),
    disabled: Type.Boolean(),
    status: Type.Union([Type.Literal('live'), Type.Literal('pending')]),
    metadata: Metadata,
    external_id: Nullable(Type.String()),
    version: Type.Integer(),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Link' },
);

export const LinkList = Type.Object({
  data: Type.Array(Type.Ref('Link')),
  next_cursor: Nullable(Type.String()),
  total_estimate: Type.Integer({
    description: 'How many links match the filters (all pages): exact up to 1 000; above that the query planner\'s estimate (at least 1 001), not a count.',
  }),
});

export const LinkListQuery = Type.Object(
  {
    domain: Type.Optional(Type.String({ maxLength: 253 })),
    tag: Type.Optional(Type.String({ maxLength: 64 })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'substring of path or destination' })),
    created_from: Type.Optional(DateOrTime),
    created_to: Type.Optional(DateOrTime),
    updated_from: Type.Optional(DateOrTime),
    updated_to: Type.Optional(DateOrTime),
    status: Type.Optional(Type.Union([Type.Literal('live'), Type.Literal('pending')])),
    disabled: Type.Optional(Type.Boolean()),
    external_id: Type.Optional(Type.String({ maxLength: 256 })),
    limit: WithDefault(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export type CreateLinkInput = Static<typeof LinkCreate>;
export type UpdateLinkInput = Static<typeof LinkUpdate>;
/** A link's writable fields (a create body without its conflict option). */
export type LinkFields = Omit<CreateLinkInput, 'on_conflict'>;
export type LinkStatusValue = Static<typeof LinkStatus>;
