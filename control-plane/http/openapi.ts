/**
 * Finishing the OpenAPI document @fastify/swagger generates from the route schemas: what the
 * route schemas say but the 3.0 conversion cannot write in a form validators and client
 * generators understand. Pure functions over the document (no I/O).
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** @fastify/swagger's stand-in for JSON Schema's `{type: 'null'}` in OpenAPI 3.0. */
const isNullSchema = (s: Json): boolean =>
  s.nullable === true && Array.isArray(s.enum) && s.enum.length === 1 && s.enum[0] === null;

/** An enum member of a union as converted: `{type, enum}` (TypeBox's `const` is `enum: [value]`). */
const enumOf = (s: Json): { type: string; values: unknown[]; description?: string } | null => {
  const keys = Object.keys(s).filter((k) => k !== 'description');
  if (keys.length !== 2 || typeof s.type !== 'string' || !Array.isArray(s.enum)) return null;
  return { type: s.type, values: s.enum, ...(typeof s.description === 'string' ? { description: s.description } : {}) };
};

/**
 * A TypeBox literal union (`anyOf` of single-value enums), nullable or not, becomes one `enum`
 * on the real type: `{type: 'integer', nullable: true, enum: [301, 302, 307, 308, null]}`.
 * @fastify/swagger can only mark a union nullable when it has exactly one non-null member, so it
 * wrote null as `{"type":"object","nullable":true,"enum":[null]}` beside the union — a form that
 * switches response validation off in Prism and yields `object` in generated clients. `null` is
 * listed in the enum too, as OpenAPI 3.0.3 asks for (an enum is checked before `nullable`).
 * Children are finished first, so a nested union arrives here as one enum member.
 */
function flattenEnumUnion(s: Json): void {
  const members = s.anyOf;
  if (!Array.isArray(members) || members.length === 0 || !members.every(isObject)) return;
  const nullable = members.some(isNullSchema);
  const enums = members.filter((m) => !isNullSchema(m)).map(enumOf);
  if (enums.length === 0 || enums.some((e) => e === null)) return;
  const types = new Set(enums.map((e) => e!.type));
  if (types.size !== 1) return;
  const values = enums.flatMap((e) => e!.values);
  let type = [...types][0]!;
  if (type === 'number' && values.every((v) => Number.isInteger(v))) type = 'integer';
  const description = enums.find((e) => e!.description)?.description;
  delete s.anyOf;
  s.type = type;
  s.enum = nullable ? [...values, null] : values;
  if (nullable) s.nullable = true;
  if (description !== undefined && s.description === undefined) s.description = description;
}

/** `nullable` on an enum that does not list null (@fastify/swagger merging `anyOf [enum, null]`). */
function listNullInEnum(s: Json): void {
  if (s.nullable === true && Array.isArray(s.enum) && !s.enum.includes(null)) s.enum = [...s.enum, null];
}

function walk(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n);
    return;
  }
  if (!isObject(node)) return;
  for (const v of Object.values(node)) walk(v);
  flattenEnumUnion(node);
  listNullInEnum(node);
}

const MUTATING = new Set(['post', 'put', 'patch', 'delete']);

/** Headers the hooks put on answers (app.ts, rate-limit/, idempotency/, keys/auth-hook.ts, error-handler.ts). */
const HEADERS: Record<string, Json> = {
  'X-Request-Id': { description: "the request's id: the X-Request-Id sent (1–128 of A-Z a-z 0-9 . _ : -), else a generated UUID; on every log line", schema: { type: 'string' } },
  RateLimit: { description: 'the key\'s bucket now (IETF RateLimit header fields): `"per-key";r=<requests left>;t=<seconds until full/until allowed>`', schema: { type: 'string' } },
  'RateLimit-Policy': { description: 'the key\'s limit: `"per-key";q=<burst>;w=<window seconds>`', schema: { type: 'string' } },
  'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } },
  'Idempotency-Key': { description: 'the Idempotency-Key of the request, echoed', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: 'present (true) when this is the stored answer to an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
  Location: { description: 'the URL of the created resource', schema: { type: 'string' } },
  'WWW-Authenticate': { description: 'the Bearer challenge (RFC 6750), naming the error and, for 403, the scope needed', schema: { type: 'string' } },
};

const PARAMETERS: Record<string, Json> = {
  RequestId: {
    in: 'header', name: 'X-Request-Id', required: false,
    description: 'your id for the request (1–128 of A-Z a-z 0-9 . _ : -), echoed in the answer and logged; another value is replaced by a generated UUID',
    schema: { type: 'string', maxLength: 128 },
  },
  Traceparent: {
    in: 'header', name: 'traceparent', required: false,
    description: 'W3C Trace Context (`00-<trace id>-<parent span id>-<flags>`): the request joins your trace, and the webhook deliveries and job callback it causes ' +
      'send `traceparent` with the same trace id; a malformed value is ignored (a new trace), never an error',
    schema: { type: 'string', maxLength: 512 },
  },
  IdempotencyKey: {
    in: 'header', name: 'Idempotency-Key', required: false,
    description: 'makes a retry safe: the first answer is stored 24 h and replayed for the same key and body (Idempotent-Replayed: true); ' +
      'the same key with another body is 422 idempotency_key_reused, while the first is running 409 idempotency_in_flight',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
  },
};

/** The operations whose success answer carries a Location header (http/*-routes.ts). */
const LOCATION: Record<string, string> = {
  createLink: '201', createDomain: '201', createWebhookEndpoint: '201', testWebhookEndpoint: '202', createBulkJob: '202',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 413: 'Body too large',
  415: 'Unsupported Content-Type', 422: 'Unprocessable', 429: 'Too many requests', 500: 'Internal error', 503: 'Unavailable',
};

export interface OpenApiFacts {
  /** The error catalog (errors.ts): code → HTTP status. */
  errors: Record<string, { status: number }>;
}

const ref = (kind: 'headers' | 'parameters' | 'schemas', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** The error statuses an operation can answer, from what every request goes through. */
function errorStatuses(method: string, path: string, op: Json): number[] {
  const declared = Object.keys((op.responses as Json | undefined) ?? {}).map(Number).filter((s) => s >= 400);
  const s = new Set([...declared, 400, 401, 403, 429, 500, 503]); // input checks, auth, scope, rate limit, faults, dependencies
  if (path.includes('{')) s.add(404); // the resource named in the path
  if (MUTATING.has(method)) { s.add(409); s.add(422); } // Idempotency-Key in flight / reused
  if (op.requestBody) { s.add(413); s.add(415); }
  return [...s].sort((a, b) => a - b);
}

/** The answer with status `status`: the Error body and the headers it carries. */
function errorResponse(facts: OpenApiFacts, status: number, mutating: boolean): Json {
  const codes = Object.entries(facts.errors).filter(([, e]) => e.status === status).map(([c]) => c);
  const headers: Json = { 'X-Request-Id': ref('headers', 'X-Request-Id') };
  if (status !== 401) Object.assign(headers, { RateLimit: ref('headers', 'RateLimit'), 'RateLimit-Policy': ref('headers', 'RateLimit-Policy') });
  if (mutating && status !== 401) Object.assign(headers, { 'Idempotency-Key': ref('headers', 'Idempotency-Key'), 'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed') });
  if (status === 429 || status === 503 || (status === 409 && mutating)) headers['Retry-After'] = ref('headers', 'Retry-After');
  if (status === 401 || status === 403) headers['WWW-Authenticate'] = ref('headers', 'WWW-Authenticate');
  return {
    description: `${STATUS_TEXT[status] ?? 'Error'}: error.code is one of ${codes.map((c) => `\`${c}\``).join(', ')}`,
    headers,
    // the Error body, its code narrowed to the codes of this status (a client can switch on it)
    content: {
      'application/json': {
        schema: { allOf: [ref('schemas', 'Error'), { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string', enum: codes } } } } }] },
      },
    },
  };
}

/** An operation's headers and answers; the error answers it uses are added to `errorAnswers` (components.responses). */
function finishOperation(facts: OpenApiFacts, method: string, path: string, op: Json, errorAnswers: Json): void {
  const mutating = MUTATING.has(method);
  const params = (op.parameters as Json[] | undefined) ?? [];
  op.parameters = [...params, ref('parameters', 'RequestId'), ref('parameters', 'Traceparent'), ...(mutating ? [ref('parameters', 'IdempotencyKey')] : [])];
  const common: Json = { 'X-Request-Id': ref('headers', 'X-Request-Id'), RateLimit: ref('headers', 'RateLimit'), 'RateLimit-Policy': ref('headers', 'RateLimit-Policy') };
  if (mutating) Object.assign(common, { 'Idempotency-Key': ref('headers', 'Idempotency-Key'), 'Idempotent-Replayed': ref('headers', 'Idempotent-Replayed') });
  const responses = (op.responses as Record<string, Json> | undefined) ?? {};
  for (const [status, r] of Object.entries(responses)) {
    if (Number(status) >= 400) continue;
    r.headers = { ...common, ...(LOCATION[op.operationId as string] === status ? { Location: ref('headers', 'Location') } : {}), ...(r.headers as Json | undefined) };
  }
  for (const status of errorStatuses(method, path, op)) {
    const name = `Error${status}${mutating ? 'Idempotent' : ''}`;
    errorAnswers[name] ??= errorResponse(facts, status, mutating);
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  op.responses = responses;
}

/**
 * The document as served: literal unions flattened into enums (flattenEnumUnion), null listed in
 * nullable enums; every operation's request headers (X-Request-Id, Idempotency-Key), response
 * headers and the error answers the hooks give on every route.
 */
export function finishOpenApi<T extends object>(doc: T, facts: OpenApiFacts): T {
  walk(doc);
  const d = doc as Json;
  const components = (d.components ??= {}) as Json;
  components.headers = { ...(components.headers as Json | undefined), ...HEADERS };
  components.parameters = { ...(components.parameters as Json | undefined), ...PARAMETERS };
  const errorAnswers: Json = {};
  for (const [path, item] of Object.entries((d.paths as Record<string, Record<string, Json>> | undefined) ?? {})) {
    // the protocol endpoints (/oauth/token, /.well-known/jwks.json) answer as their RFCs say, not with the API's hooks
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(item)) finishOperation(facts, method, path, op, errorAnswers);
  }
  components.responses = { ...(components.responses as Json | undefined), ...errorAnswers };
  return doc;
}
