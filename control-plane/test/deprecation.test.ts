/** Deprecated routes (issue 16): Deprecation (RFC 9745), Sunset (RFC 8594) and Link headers, and `deprecated: true` in OpenAPI. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deprecationHeaders } from '../http/deprecation.js';
import { createHarness, type Harness } from './harness.js';

describe('deprecated routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('deprecation');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the headers: @unix-seconds deprecation date, HTTP-date sunset, successor and notice links', () => {
    expect(deprecationHeaders({ since: '2026-12-01', sunset: '2027-06-30', successor: '/v1/audit', notice: '/docs/governance.md#deprecation' })).toEqual({
      deprecation: '@1796083200',
      sunset: 'Wed, 30 Jun 2027 00:00:00 GMT',
      link: '</v1/audit>; rel="successor-version", </docs/governance.md#deprecation>; rel="deprecation"',
    });
    expect(deprecationHeaders({ since: '2026-12-01' })).toEqual({ deprecation: '@1796083200' });
  });

  it('the deprecated alias answers as its successor, with the headers; the successor has none', async () => {
    await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'audited', role: 'analyst' } });
    const old = await h.req({ method: 'GET', url: '/v1/audit-log' });
    const now = await h.req({ method: 'GET', url: '/v1/audit' });
    expect(old.statusCode).toBe(200);
    expect(old.json()).toEqual(now.json());
    expect(old.headers).toMatchObject({ deprecation: '@1796083200', sunset: 'Wed, 30 Jun 2027 00:00:00 GMT', link: expect.stringContaining('</v1/audit>; rel="successor-version"') });
    expect(now.headers.deprecation).toBeUndefined();
    expect(now.headers.sunset).toBeUndefined();
    // a refused call says so too
    const refused = await h.req({ method: 'GET', url: '/v1/audit-log', key: null });
    expect([refused.statusCode, refused.headers.deprecation]).toEqual([401, '@1796083200']);
  });

  it('the OpenAPI document marks the alias deprecated (and only it)', async () => {
    const doc = (await h.req({ method: 'GET', url: '/v1/openapi.json', key: null })).json<{ paths: Record<string, Record<string, { deprecated?: boolean; operationId: string }>> }>();
    expect(doc.paths['/v1/audit-log']!.get).toMatchObject({ deprecated: true, operationId: 'listAuditEntriesDeprecated' });
    const marked = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).filter(([, o]) => o.deprecated).map(([m]) => `${m} ${p}`));
    expect(marked).toEqual(['get /v1/audit-log']);
  });
});
