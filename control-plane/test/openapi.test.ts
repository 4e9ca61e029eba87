import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
      if (['post', 'patch', 'put'].includes(method) && !path.includes('/replay') && !path.includes('/cancel') && !path.includes('/rotate') && !path.includes('/test')) {
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
});
