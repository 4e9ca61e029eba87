/**
 * docs/api.md names every operation of the served OpenAPI document (`METHOD /path`, path as in the
 * document), and names none the document lacks: a new route gets its line in the API reference.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/testing/index.js';
import { createHarness, type Harness } from './harness.js';

const METHODS = ['get', 'put', 'post', 'patch', 'delete'];

describe('docs/api.md and the OpenAPI document', () => {
  let h: Harness;
  let operations: string[];
  beforeAll(async () => {
    h = await createHarness('docs_api');
    const doc = (await h.req({ method: 'GET', url: '/v1/openapi.json', key: null })).json() as { paths: Record<string, Record<string, unknown>> };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${path}`));
  });
  afterAll(async () => {
    await h.close();
  });

  const named = () => {
    const text = readFileSync(join(REPO_ROOT, 'docs/api.md'), 'utf8');
    const routes = text.slice(text.indexOf('## Routes'), text.indexOf('\n## ', text.indexOf('## Routes') + 1));
    return new Set([...routes.matchAll(/`((?:GET|PUT|POST|PATCH|DELETE) \/[^`\s]*)`/g)].map((m) => m[1]!));
  };

  it('every operation of the document has its `METHOD /path` in the Routes table', () => {
    expect(operations.length).toBeGreaterThanOrEqual(35);
    expect(operations.filter((op) => !named().has(op))).toEqual([]);
  });

  it('the table names no operation the document lacks (besides the document itself and the probes)', () => {
    const undocumented = new Set(['GET /v1/openapi.json', 'GET /healthz', 'GET /readyz', 'GET /metrics']);
    expect([...named()].filter((op) => !operations.includes(op) && !undocumented.has(op))).toEqual([]);
  });
});
