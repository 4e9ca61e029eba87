/**
 * Request/response schemas (TypeBox): the single source for validation, handler types and the
 * OpenAPI document. Unknown properties are rejected (a typo is a 400 naming the field).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';
import { ROLES, SCOPES, type Role, type Scope } from '../keys/roles.js';

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/**
 * A query field the server fills in when it is absent (ajv's useDefaults): optional for the caller,
 * always set for the handler. TypeBox lists every property not marked Optional in `required`, and
 * @fastify/swagger turns that list into `required: true` parameters — so a plain field with a
 * `default` told clients they must send it. Marked Optional at runtime (left out of `required`),
 * typed as the plain field (the handler sees the default).
 */
export const WithDefault = <T extends TSchema>(t: T): T => {
  if (t.default === undefined) throw new Error('WithDefault: the schema has no default');
  return Type.Optional(t) as unknown as T;
};

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(ERROR_CATALOG), description: 'stable machine code (the error table in the README)' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'Error', description: 'Every error: a stable machine code, a message, and details (e.g. the field).' },
);

/** Standard error responses to merge into a route's `response`. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')])) as Record<number, ReturnType<typeof Type.Ref>>;

export const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-Z]{26}$`, description: `${prefix}_<ULID>` });
export const IdParams = (prefix: string) => Type.Object({ id: Id(prefix) });

export const UrlString = Type.String({ minLength: 1, maxLength: 4096, description: 'absolute http(s) URL' });
export const Timestamp = Type.String({ format: 'date-time' });
export const DateOrTime = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}([Tt ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?([Zz]|[+-]\\d{2}:?\\d{2})?)?$',
  description: 'ISO 8601 date or date-time (UTC when no offset)',
});

export const Utm = Type.Object(
  {
    source: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    medium: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    campaign: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    term: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
    content: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  },
  { additionalProperties: false },
);

const RedirectStatus = Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(307), Type.Literal(308)]);
const StringOrList = <T extends TSchema>(s: T) => Type.Union([s, Type.Array(s, { minItems: 1, maxItems: 50 })]);

const Variant = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
    url: UrlString,
    weight: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);

const Country = Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2' });
const Rule = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
    when: Type.Object(
      {
        country: Type.Optional(Type.Array(Country, { minItems: 1, maxItems: 250 })),
        os: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { minItems: 1, maxItems: 10 })),
        device: Type.Optional(Type.Array(Type.String({ maxLength: 16 }), { minItems: 1, maxItems: 4 })),
        language: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$' }), { minItems: 1, maxItems: 50 })),
        ip: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 200 })),
        query: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 512 }))),
        time: Type.Optional(
          Type.Object(
            {
              from: Type.Optional(Nullable(Timestamp)),
              to: Type.Optional(Nullable(Timestamp)),
              days: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 6 }), { minItems: 1, maxItems: 7, uniqueItems: true })),
              hours: Type.Optional(
                Type.Unsafe<[number, number]>(
                  Type.Array(Type.Integer({ minimum: 0, maximum: 24 }), { minItems: 2, maxItems: 2, description: '[start, end) hours; end < start wraps midnight' }),
                ),
              ),
              timezone: Type.Optional(Type.String({ maxLength: 64 })),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    url: Type.Optional(UrlString),
    variants: Type.Optional(Type.Array(Variant, { maxItems: 20 })),
  },
  { additionalProperties: false },
);

export const Routing = Type.Object(
  {
    rules: Type.Optional(Type.Array(Rule, { maxItems: 50 })),
    geo: Type.Optional(Type.Array(Type.Object({ country: StringOrList(Country), url: UrlString }, { additionalProperties: false }), { maxItems: 250 })),
    device: Type.Optional(
      Type.Array(
        Type.Object(
          { os: Type.Optional(StringOrList(Type.String({ maxLength: 32 }))), device: Type.Optional(StringOrList(Type.String({ maxLength: 16 }))), url: UrlString },
          { additionalProperties: false },
        ),
        { maxItems: 20 },
      ),
    ),
    ab: Type.Optional(Type.Array(Variant, { maxItems: 20 })),
  },
  {
    additionalProperties: false,
    description: 'First matching rule wins (rules, then geo, then device shorthands); otherwise the ab split, otherwise destination_url.',
  },
);

const Tag = Type.String({ minLength: 1, maxLength: 64 });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'free-form JSON, at most 16 KB' });

const Path = Type.String({ minLength: 1, maxLength: 1024, description: 'vanity path; generated (7+ base62 chars) when absent' });
const LinkStatus = Type.Union([Type.Literal('live'), Type.Literal('pending')], { description: 'pending links answer 404 until live' });
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
  total_estimate: Type.Integer(),
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

export const PageQuery = Type.Object(
  { limit: WithDefault(Type.Integer({ minimum: 1, maximum: 1000, default: 50 })), cursor: Type.Optional(Type.String({ maxLength: 512 })) },
  { additionalProperties: false },
);

export const DomainCreate = Type.Object(
  {
    hostname: Type.String({ minLength: 1, maxLength: 253 }),
    not_found_url: Type.Optional(Nullable(UrlString)),
    expired_url: Type.Optional(Nullable(UrlString)),
    utm_template: Type.Optional(Nullable(Utm)),
    default_redirect_status: Type.Optional(Nullable(RedirectStatus)),
  },
  { additionalProperties: false },
);

export const DomainUpdate = Type.Object(
  {
    not_found_url: Type.Optional(Nullable(UrlString)),
    expired_url: Type.Optional(Nullable(UrlString)),
    utm_template: Type.Optional(Nullable(Utm)),
    default_redirect_status: Type.Optional(Nullable(RedirectStatus)),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Domain = Type.Object(
  {
    id: Id('dom'),
    hostname: Type.String(),
    not_found_url: Nullable(Type.String()),
    expired_url: Nullable(Type.String()),
    utm_template: Nullable(Utm),
    default_redirect_status: Nullable(RedirectStatus),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Domain' },
);

export const ScopeEnum = Type.Unsafe<Scope>({ type: 'string', enum: [...SCOPES] });
export const RoleEnum = Type.Unsafe<Role>({ type: 'string', enum: [...ROLES] });

export const KeyCreate = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: RoleEnum,
    scopes: Type.Optional(Type.Array(ScopeEnum, { minItems: 1, uniqueItems: true, description: 'narrows the role\'s scopes' })),
    domains: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 1000 }))),
    rate_limit: Type.Optional(
      Nullable(
        Type.Object(
          { burst: Type.Integer({ minimum: 1, maximum: 1_000_000 }), per_second: Type.Number({ minimum: 0.001, maximum: 1_000_000 }) },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);

export const Key = Type.Object(
  {
    id: Id('key'),
    name: Type.String(),
    prefix: Type.String({ description: 'the first characters of the secret' }),
    role: RoleEnum,
    scopes: Type.Array(ScopeEnum),
    domains: Nullable(Type.Array(Type.String())),
    rate_limit: Nullable(Type.Object({ burst: Type.Integer(), per_second: Type.Number() })),
    created_at: Timestamp,
    last_used_at: Nullable(Timestamp),
  },
  { $id: 'Key' },
);

export const KeyWithSecret = Type.Intersect([
  Type.Ref('Key'),
  Type.Object({
    secret: Nullable(Type.String({ description: 'shown once; null in a replay or recover (see `redacted`)' })),
    redacted: Type.Optional(Type.Array(Type.String(), { description: 'in a replay or recover: the secret fields left out (null)' })),
  }),
]);

export type LinkCreateBody = Static<typeof LinkCreate>;
export type LinkUpdateBody = Static<typeof LinkUpdate>;
export type DomainCreateBody = Static<typeof DomainCreate>;
export type KeyCreateBody = Static<typeof KeyCreate>;

/** Schemas registered with `app.addSchema` (referenced by `$ref`). */
export const SHARED_SCHEMAS = [ErrorBody, Link, Domain, Key];

/** A stored click as the API answers it (raw clicks, exports); a click webhook's data derives from it. */
export const Click = Type.Object({
  id: Type.String({ format: 'uuid' }),
  occurred_at: Timestamp,
  link_id: Type.String(),
  domain: Type.String(),
  path: Type.String(),
  destination: Type.String(),
  rule_id: Nullable(Type.String()),
  variant_id: Nullable(Type.String()),
  country: Nullable(Type.String()),
  device: Nullable(Type.String()),
  os: Nullable(Type.String()),
  browser: Nullable(Type.String()),
  referrer_host: Nullable(Type.String()),
  language: Nullable(Type.String()),
  bot: Type.Boolean(),
  qr: Type.Boolean(),
  utm: Nullable(Type.Record(Type.String(), Type.String())),
  node_id: Type.String(),
  visitor_hash: Type.String({ description: 'daily-salted hash of the truncated IP and user agent; never an IP' }),
});
