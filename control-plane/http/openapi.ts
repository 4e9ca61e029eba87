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

/** The document as served: literal unions flattened into enums (flattenEnumUnion), null listed in nullable enums. */
export function finishOpenApi<T extends object>(doc: T): T {
  walk(doc);
  return doc;
}
