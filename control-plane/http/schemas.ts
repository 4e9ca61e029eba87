/**
 * Request/response schemas (TypeBox): the single source for validation, handler types and the
 * OpenAPI document. Unknown properties are rejected (a typo is a 400 naming the field).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';
import { ID_BODY, ID_PREFIXES, idPattern, type IdPrefix } from '../ids.js';
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
      code: Type.Unsafe<ErrorCode>({ type: 'string', enum: Object.keys(ERROR_CATALOG), description: 'stable machine code (the error table in docs/errors.md)' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  },
  { $id: 'Error', description: 'Every error: a stable machine code, a message, and details (e.g. the field).' },
);

/** Standard error responses to merge into a route's `response`. */
export const errorResponses = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [c, Type.Ref('Error')])) as Record<number, ReturnType<typeof Type.Ref>>;

/** An id as clients see it (docs/ids.md); a value of another form is refused with `invalid_id`. */
export const Id = (prefix: IdPrefix, description?: string) =>
  Type.String({ pattern: idPattern(prefix), description: description ?? `${ID_PREFIXES[prefix]} id: \`${prefix}_\` + 26 Crockford base32 characters (128 bits, ms time first)` });
export const IdParams = (prefix: IdPrefix) => Type.Object({ id: Id(prefix) });
/** An id with one of several prefixes (an audit entry's resource or actor). */
export const IdOf = (prefixes: readonly IdPrefix[], description: string) =>
  Type.String({ pattern: `^(${prefixes.join('|')})_${ID_BODY}$`, description });

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

export const RedirectStatus = Type.Union([Type.Literal(301), Type.Literal(302), Type.Literal(307), Type.Literal(308)]);
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
    expires_at: Type.Optional(Nullable(Type.String({ format: 'date-time', description: 'the key stops working then (401 key_expired); at most the creating key\'s own expiry, which it inherits when omitted' }))),
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
    expires_at: Nullable(Timestamp),
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

export type DomainCreateBody = Static<typeof DomainCreate>;
export type KeyCreateBody = Static<typeof KeyCreate>;

/** Schemas registered with `app.addSchema` (referenced by `$ref`). */
export const SHARED_SCHEMAS = [ErrorBody, Domain, Key];

/** A stored click as the API answers it (raw clicks, exports); a click webhook's data derives from it. */
export const Click = Type.Object({
  id: Id('clk', 'the click id: the UUIDv7 the redirect node made (exactly-once key), as `clk_` + 26 Crockford base32 characters'),
  occurred_at: Timestamp,
  link_id: Id('ln'),
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
