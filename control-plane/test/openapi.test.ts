import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/testing/index.js';
import { ERROR_CATALOG } from '../errors.js';
import { createHarness, type Harness } from './harness.js';

interface Operation {
  summary?: string;
  responses?: Record<string, unknown>;
  requestBody?: unknown;
  operationId?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: { default?: unknown } }[];
}
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
}

/** Every object in the document with its JSON pointer. */
function* nodes(v: unknown, at = ''): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) yield* nodes(x, `${at}/${i}`);
  } else if (typeof v === 'object' && v !== null) {
    yield [at, v as Record<string, unknown>];
    for (const [k, x] of Object.entries(v)) yield* nodes(x, `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  }
}

describe('GET /v1/openapi.json', () => {
  let h: Harness;
  let doc: OpenApiDoc;
  beforeAll(async () => {
    h = await createHarness('openapi');
    const r = await h.req({ method: 'GET', url: '/v1/openapi.json', key: null });
    expect(r.statusCode).toBe(200);
    doc = r.json();
  });
  afterAll(async () => {
    await h.close();
  });

  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('documents every /v1 route with a request schema where it takes input and response schemas', () => {
    const routes = h.app.printRoutes({ commonPrefix: false });
    expect(routes).toContain('/v1/links');
    const ops: [string, string, Operation][] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) ops.push([method, path, op]);
    }
    expect(ops.length).toBeGreaterThanOrEqual(15);
    for (const [method, path, op] of ops) {
      expect(op.summary, `${method} ${path} summary`).toBeTruthy();
      expect(Object.keys(op.responses ?? {}).length, `${method} ${path} responses`).toBeGreaterThan(0);
      const success = Object.keys(op.responses ?? {}).find((s) => s.startsWith('2'));
      expect(success, `${method} ${path} success response`).toBeTruthy();
      if (['post', 'patch', 'put'].includes(method) && !path.includes('/replay') && !path.includes('/approve') && !path.includes('/reject') && !path.includes('/cancel') && !path.includes('/rotate') && !path.includes('/test')) {
        expect(op.requestBody, `${method} ${path} request body`).toBeTruthy();
      }
      if (path.includes('{id}')) expect(op.parameters?.some((p) => p.name === 'id'), `${method} ${path} id param`).toBe(true);
    }
    // the core routes are all there
    for (const [m, p] of [['post', '/v1/links'], ['get', '/v1/links'], ['get', '/v1/links/{id}'], ['patch', '/v1/links/{id}'], ['delete', '/v1/links/{id}'],
      ['get', '/v1/links/{id}/qr'], ['post', '/v1/keys'], ['get', '/v1/keys'], ['delete', '/v1/keys/{id}'], ['post', '/v1/domains'], ['get', '/v1/domains'],
      ['patch', '/v1/domains/{id}'], ['delete', '/v1/domains/{id}'], ['post', '/v1/idempotency/recover']]) {
      expect(doc.paths[p!]?.[m!], `${m} ${p}`).toBeTruthy();
    }
  });

  it('marks no parameter that has a server default as required (issue 15)', () => {
    const defaulted: string[] = [];
    const requiredWithDefault: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const p of op.parameters ?? []) {
          if (p.schema?.default === undefined) continue;
          defaulted.push(`${method} ${path} ${p.name}`);
          if (p.required) requiredWithDefault.push(`${method} ${path} ${p.name}`);
        }
      }
    }
    expect(defaulted).toContain('get /v1/links/{id}/qr ecl');
    expect(defaulted).toContain('get /v1/stats exclude_bots');
    expect(defaulted.length).toBeGreaterThanOrEqual(19);
    expect(requiredWithDefault).toEqual([]);
  });

  it('fills a defaulted query parameter in for the handler when it is left out', async () => {
    const r = await h.req({ method: 'GET', url: '/v1/stats' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ group_by: 'link', interval: 'day', exclude_bots: true });
  });

  it('writes null as OpenAPI 3.0 does: nullable on the real type, never {"type":"object","enum":[null]} (issue 15)', () => {
    const nullOnly = [...nodes(doc)].filter(([, n]) => Array.isArray(n.enum) && n.enum.length === 1 && n.enum[0] === null).map(([at]) => at);
    expect(nullOnly).toEqual([]);
    // every nullable schema names its type, and an enum that allows null lists it
    for (const [at, n] of nodes(doc)) {
      if (n.nullable === undefined) continue;
      expect(typeof n.type, `${at} type`).toBe('string');
      if (Array.isArray(n.enum)) expect(n.enum, `${at} enum`).toContain(null);
    }
    const schemas = (doc as unknown as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } }).components.schemas;
    expect(schemas.Link!.properties.redirect_status).toEqual({ type: 'integer', enum: [301, 302, 307, 308, null], nullable: true });
    expect(schemas.Link!.properties.expires_at).toEqual({ type: 'string', format: 'date-time', nullable: true });
  });

  it('names every operation: a unique camelCase operationId (issue 15)', () => {
    const ids: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.operationId, `${method} ${path} operationId`).toMatch(/^[a-z][a-zA-Z0-9]+$/);
        ids.push(op.operationId!);
      }
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/v1/links']!.post!.operationId).toBe('createLink');
    expect(doc.paths['/v1/links']!.get!.operationId).toBe('listLinks');
    expect(doc.paths['/v1/webhooks/endpoints/{id}/secrets/rotate']!.post!.operationId).toBe('rotateWebhookSecret');
  });

  it("passes Redocly's recommended rules with no problem (rules turned off are justified in redocly.yaml) (issue 15)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lp-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, JSON.stringify(doc));
      const cli = join(REPO_ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
      const run = await promisify(execFile)(process.execPath, [cli, 'lint', '--config', join(REPO_ROOT, 'redocly.yaml'), '--format=json', file], {
        cwd: REPO_ROOT,
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 16 * 1024 * 1024,
      }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      const out = JSON.parse(run.stdout) as { totals: Record<string, number>; problems: { ruleId: string; message: string }[] };
      expect(out.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(out.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('documents the request and response headers and the error answers of every operation (issue 15)', () => {
    type Resp = { $ref?: string; headers?: Record<string, unknown> };
    const full = doc as unknown as {
      paths: Record<string, Record<string, { parameters?: { $ref?: string }[]; responses: Record<string, Resp> }>>;
      components: { responses: Record<string, Resp & { description: string }>; schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } };
    };
    const resolve = (r: Resp) => (r.$ref ? full.components.responses[r.$ref.split('/').pop()!]! : r);
    for (const [path, item] of Object.entries(full.paths)) {
      if (!path.startsWith('/v1/')) continue; // /oauth/token and the JWKS answer as their RFCs say (oauth.test.ts)
      for (const [method, op] of Object.entries(item)) {
        const mutating = ['post', 'put', 'patch', 'delete'].includes(method);
        const params = (op.parameters ?? []).map((p) => p.$ref);
        expect(params, `${method} ${path}`).toContain('#/components/parameters/RequestId');
        if (mutating) expect(params, `${method} ${path}`).toContain('#/components/parameters/IdempotencyKey');
        const statuses = Object.keys(op.responses);
        for (const s of ['400', '401', '403', '429', '500', '503']) expect(statuses, `${method} ${path}`).toContain(s);
        if (path.includes('{')) expect(statuses, `${method} ${path}`).toContain('404');
        if (mutating) expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['409', '422']));
        for (const [status, r] of Object.entries(op.responses)) {
          const headers = Object.keys(resolve(r).headers ?? {});
          expect(headers, `${method} ${path} ${status}`).toContain('X-Request-Id');
          if (status !== '401') expect(headers, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy']));
          if (status === '429' || status === '503') expect(headers, `${method} ${path} ${status}`).toContain('Retry-After');
          if (mutating && status !== '401') expect(headers, `${method} ${path} ${status}`).toContain('Idempotent-Replayed');
        }
      }
    }
    expect(Object.keys(full.paths['/v1/links']!.post!.responses['201']!.headers!)).toContain('Location');
    expect(Object.keys(full.paths['/v1/links/bulk']!.post!.responses).sort()).toEqual(['202', '400', '401', '403', '409', '413', '415', '422', '429', '500', '503']);
    expect(full.components.responses.Error413Idempotent!.description).toBe('Body too large: error.code is one of `body_too_large`');
    expect(JSON.stringify(full.components.responses.Error404!)).toContain('"code":{"type":"string","enum":["route_not_found","link_not_found","domain_not_found","key_not_found","workspace_not_found","oauth_client_not_found","job_not_found","webhook_endpoint_not_found","webhook_delivery_not_found","idempotency_key_not_found"]}');
    // error.code is the catalog (errors.ts), which errors-documented.test.ts checks against docs/errors.md
    expect(full.components.schemas.Error.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_CATALOG));
  });
});
