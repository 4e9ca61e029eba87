/**
 * A request/response validator built on the served OpenAPI document (what a validating proxy such
 * as Prism checks): the call is a documented operation, its query, path and header parameters and
 * its body match their schemas, the answer's status and content type are documented, its body
 * matches the schema and the API's own headers are documented on that answer. ajv on the
 * document's schemas (OpenAPI 3.0: `nullable` is ajv's own keyword).
 */
import { spawn } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface Exchange {
  method: string;
  /** path and query, as sent */
  url: string;
  reqHeaders: Record<string, string | string[] | undefined>;
  reqBody: Buffer;
  status: number;
  resHeaders: Record<string, string | string[] | undefined>;
  resBody: Buffer;
}

type Json = Record<string, unknown>;
interface Parameter { in: string; name: string; required?: boolean; schema?: Json }
interface Media { schema?: Json }
interface Response { headers?: Record<string, Json>; content?: Record<string, Media>; $ref?: string }
interface Operation { parameters?: (Parameter & { $ref?: string })[]; requestBody?: { required?: boolean; content: Record<string, Media> }; responses: Record<string, Response> }
interface Doc { paths: Record<string, Record<string, Operation>>; components?: { parameters?: Record<string, Parameter>; responses?: Record<string, Response> } }

/** The headers this API sets itself: when an answer carries one, the document must say so. */
const OWN_HEADERS = ['x-request-id', 'ratelimit', 'ratelimit-policy', 'retry-after', 'idempotency-key', 'idempotent-replayed', 'location', 'www-authenticate'];

const DOC_ID = 'openapi.json';
const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const mediaType = (v: string | string[] | undefined) => String(v ?? '').split(';')[0]!.trim().toLowerCase();

export function createOpenApiValidator(served: unknown): (x: Exchange) => string[] {
  const doc = served as Doc;
  const opts = { strict: false, allErrors: true, formats: { binary: true, byte: true } } as const;
  const ajv = new Ajv(opts);
  const coercing = new Ajv({ ...opts, coerceTypes: 'array' });
  for (const a of [ajv, coercing]) {
    addFormats.default(a);
    a.addSchema(doc, DOC_ID);
  }
  const compiled = new Map<string, ValidateFunction>();
  const validator = (a: Ajv, ptr: string) => {
    const k = `${a === ajv ? 'j' : 'c'}${ptr}`;
    let v = compiled.get(k);
    if (!v) compiled.set(k, (v = a.compile({ $ref: `${DOC_ID}#${ptr}` })));
    return v;
  };
  const problems = (v: ValidateFunction) => (v.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'invalid'}`).join('; ');

  // literal paths before templated ones (/v1/links/bulk before /v1/links/{id})
  const templates = Object.keys(doc.paths)
    .map((t) => ({ t, params: (t.match(/\{/g) ?? []).length, re: new RegExp(`^${t.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('([^/]+)')}$`) }))
    .sort((a, b) => a.params - b.params);
  const resolveParam = (p: Parameter & { $ref?: string }): [Parameter, string] | null => {
    if (!p.$ref) return null;
    const name = p.$ref.split('/').pop()!;
    return [doc.components!.parameters![name]!, pointer('', 'components', 'parameters', name)];
  };

  return (x) => {
    const out: string[] = [];
    const u = new URL(x.url, 'http://x');
    const call = `${x.method} ${u.pathname}${u.search}`;
    const match = templates.find((t) => t.re.test(u.pathname));
    const method = x.method.toLowerCase();
    const op = match ? doc.paths[match.t]![method] : undefined;
    if (!match || !op) return [`${call}: no such operation in the document`];
    const opPtr = pointer('', 'paths', match.t, method);

    // parameters
    const pathValues = Object.fromEntries([...match.t.matchAll(/\{([^}]+)\}/g)].map((m, i) => [m[1]!, decodeURIComponent(match.re.exec(u.pathname)![i + 1]!)]));
    const documentedQuery = new Set<string>();
    for (const [i, raw] of (op.parameters ?? []).entries()) {
      const [p, ptr] = resolveParam(raw) ?? [raw as Parameter, `${opPtr}/parameters/${i}`];
      let value: string | undefined;
      if (p.in === 'query') {
        documentedQuery.add(p.name);
        value = u.searchParams.get(p.name) ?? undefined;
      } else if (p.in === 'path') value = pathValues[p.name];
      else if (p.in === 'header') {
        const h = x.reqHeaders[p.name.toLowerCase()];
        value = Array.isArray(h) ? h[0] : h;
      } else continue;
      if (value === undefined) {
        if (p.required) out.push(`${call}: required ${p.in} parameter ${p.name} missing`);
        continue;
      }
      const v = validator(coercing, `${ptr}/schema`);
      if (!v(value)) out.push(`${call}: ${p.in} parameter ${p.name}=${value}: ${problems(v)}`);
    }
    for (const name of new Set(u.searchParams.keys())) if (!documentedQuery.has(name)) out.push(`${call}: undocumented query parameter ${name}`);

    // request body
    if (x.reqBody.length > 0) {
      const type = mediaType(x.reqHeaders['content-type']);
      const media = op.requestBody?.content[type];
      if (!media) out.push(`${call}: request body of type ${type || '(none)'} not documented`);
      else if ((type === 'application/json' || type.endsWith('+json')) && media.schema) {
        const v = validator(ajv, `${opPtr}/requestBody/content/${pointer(type)}/schema`);
        if (!v(JSON.parse(x.reqBody.toString('utf8')))) out.push(`${call}: request body: ${problems(v)}`);
      }
    } else if (op.requestBody?.required) out.push(`${call}: request body required`);

    // response
    const status = String(x.status);
    let resPtr = `${opPtr}/responses/${status}`;
    let res = op.responses[status] ?? op.responses.default;
    if (!res) return [...out, `${call}: status ${status} not documented`];
    if (res.$ref) {
      const name = res.$ref.split('/').pop()!;
      res = doc.components!.responses![name]!;
      resPtr = pointer('', 'components', 'responses', name);
    }
    const documentedHeaders = new Set(Object.keys(res.headers ?? {}).map((h) => h.toLowerCase()));
    for (const h of OWN_HEADERS) {
      if (x.resHeaders[h] !== undefined && !documentedHeaders.has(h)) out.push(`${call} → ${status}: response header ${h} not documented`);
    }
    if (x.resBody.length > 0) {
      const type = mediaType(x.resHeaders['content-type']);
      const media = res.content?.[type];
      if (!media) out.push(`${call} → ${status}: response body of type ${type || '(none)'} not documented`);
      else if ((type === 'application/json' || type.endsWith('+json')) && media.schema) {
        const v = validator(ajv, `${resPtr}/content/${pointer(type)}/schema`);
        if (!v(JSON.parse(x.resBody.toString('utf8')))) out.push(`${call} → ${status}: response body: ${problems(v)}`);
      }
    }
    return out;
  };
}

/** An HTTP proxy to `port` that keeps every request and answer whole. */
export async function recordingProxy(port: number, exchanges: Exchange[]): Promise<{ server: Server; port: number }> {
  const read = async (s: AsyncIterable<Buffer>) => {
    const parts: Buffer[] = [];
    for await (const c of s) parts.push(c);
    return Buffer.concat(parts);
  };
  const server = createServer(async (req, res) => {
    const reqBody = await read(req);
    const up = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, async (ur) => {
      const resBody = await read(ur);
      exchanges.push({ method: req.method!, url: req.url!, reqHeaders: req.headers, reqBody, status: ur.statusCode!, resHeaders: ur.headers, resBody });
      const headers = { ...ur.headers, 'content-length': String(resBody.length) };
      delete headers['transfer-encoding'];
      delete headers.connection;
      res.writeHead(ur.statusCode!, headers).end(resBody);
    });
    up.on('error', (err) => res.writeHead(502).end(String(err)));
    up.end(reqBody);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** A shell block of the docs, run by bash (not spawnSync: a recording proxy may run in this process). */
export async function runBash(script: string, cwd: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { status, stdout, stderr };
}
