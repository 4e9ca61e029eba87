import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.js';

interface Operation {
  summary?: string;
  responses?: Record<string, unknown>;
  requestBody?: unknown;
  parameters?: { name: string }[];
}
interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
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
});
