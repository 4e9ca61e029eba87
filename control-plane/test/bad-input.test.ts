/**
 * Malformed input is a 400 naming the field, never a 500 (design §4, issue 12): NUL bytes and lone
 * surrogates in any string that reaches Postgres, non-finite numbers (ajv coerces `Infinity` and
 * `1e400`), nesting past 32 levels, impossible dates, forged cursors. Every case the issue
 * reproduced is one row below.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

const cursorOf = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const nested = (depth: number): unknown => {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};
/** A JSON text with `metadata` nested `depth` objects deep (JSON.stringify itself overflows long before 5 000). */
const withMetadata = (fields: Record<string, unknown>, depth: number) =>
  `${JSON.stringify(fields).slice(0, -1)}${Object.keys(fields).length ? ',' : ''}"metadata":${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}}`;

interface Case {
  name: string;
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  code?: string;
  field: string;
}

describe('bad input: a 400 with the field named, never a 500', () => {
  let h: Harness;
  let domain: string;
  let linkId: string;
  let jobId: string;
  let endpointId: string;

  beforeAll(async () => {
    h = await createHarness('bad-input');
    domain = await createDomain(h, 'go.bad-input.example.com');
    const l = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'ok', destination_url: 'https://example.org/' } });
    linkId = l.json().id;
    const j = await h.req({ method: 'POST', url: '/v1/links/bulk', payload: { operation: 'create', items: [{ domain, path: 'bulk-1', destination_url: 'https://example.org/b' }] } });
    jobId = j.json().job_id ?? j.json().id;
    const e = await h.req({ method: 'POST', url: '/v1/webhooks/endpoints', payload: { url: 'https://hooks.example.org/in' } });
    endpointId = e.json().id;
  });
  afterAll(async () => {
    await h?.close();
  });

  const link = (rest: Record<string, unknown> = {}) => ({ domain: 'go.bad-input.example.com', destination_url: 'https://example.org/', ...rest });
  const cases = (): Case[] => [
    // NUL (\u0000, %00) in strings that reach Postgres
    { name: 'q=%00', url: '/v1/links?q=%00', field: 'q' },
    { name: 'tag=%00', url: '/v1/links?tag=a%00b', field: 'tag' },
    { name: 'domain=%00', url: '/v1/links?domain=%00', field: 'domain' },
    { name: 'external_id=%00', url: '/v1/links?external_id=x%00', field: 'external_id' },
    { name: 'deliveries event_type=%00', url: '/v1/webhooks/deliveries?event_type=%00', field: 'event_type' },
    { name: 'tag NUL', method: 'POST', url: '/v1/links', payload: link({ tags: ['a\u0000'] }), field: 'tags[0]' },
    { name: 'metadata key NUL', method: 'POST', url: '/v1/links', payload: link({ metadata: { 'k\u0000': 1 } }), field: 'metadata.k\\u0000' },
    { name: 'metadata value NUL', method: 'POST', url: '/v1/links', payload: link({ metadata: { k: 'v\u0000' } }), field: 'metadata.k' },
    { name: 'utm NUL', method: 'POST', url: '/v1/links', payload: link({ utm: { source: '\u0000' } }), field: 'utm.source' },
    { name: 'path NUL', method: 'POST', url: '/v1/links', payload: link({ path: 'a\u0000' }), field: 'path' },
    { name: 'external_id NUL', method: 'POST', url: '/v1/links', payload: link({ external_id: 'e\u0000' }), field: 'external_id' },
    { name: 'key name NUL', method: 'POST', url: '/v1/keys', payload: { name: 'n\u0000', role: 'analyst' }, field: 'name' },
    { name: 'webhook description NUL', method: 'POST', url: '/v1/webhooks/endpoints', payload: { url: 'https://hooks.example.org/x', description: 'd\u0000' }, field: 'description' },
    { name: 'recover key NUL', method: 'POST', url: '/v1/idempotency/recover', payload: { key: 'k\u0000' }, field: 'key' },
    { name: 'lone surrogate', method: 'POST', url: '/v1/links', payload: link({ metadata: { k: 'a\ud800b' } }), field: 'metadata.k' },
    { name: 'bulk ?operation=%00', method: 'POST', url: '/v1/links/bulk?operation=create%00', payload: '[]', headers: { 'content-type': 'application/x-ndjson' }, field: 'operation' },
    { name: 'Idempotency-Key with NUL', method: 'POST', url: '/v1/links', payload: link(), headers: { 'idempotency-key': 'k\u0000' }, code: 'invalid_idempotency_key', field: 'Idempotency-Key' },
    // non-finite numbers, coerced by ajv
    { name: 'links limit=Infinity', url: '/v1/links?limit=Infinity', field: 'limit' },
    { name: 'links limit=1e400', url: '/v1/links?limit=1e400', field: 'limit' },
    { name: 'domains limit=Infinity', url: '/v1/domains?limit=Infinity', field: 'limit' },
    { name: 'keys limit=1e400', url: '/v1/keys?limit=1e400', field: 'limit' },
    { name: 'endpoints limit=Infinity', url: '/v1/webhooks/endpoints?limit=Infinity', field: 'limit' },
    { name: 'deliveries limit=-Infinity', url: '/v1/webhooks/deliveries?limit=-Infinity', field: 'limit' },
    { name: 'job errors limit=Infinity', url: `/v1/jobs/${'JOB'}/errors?limit=Infinity`, field: 'limit' },
    { name: 'clicks limit=1e400', url: `/v1/links/${'LINK'}/clicks?limit=1e400`, field: 'limit' },
    { name: 'stats limit=Infinity', url: '/v1/stats?limit=Infinity', field: 'limit' },
    { name: 'link stats limit=Infinity', url: `/v1/links/${'LINK'}/stats?limit=Infinity`, field: 'limit' },
    { name: 'QR size=Infinity', url: `/v1/links/${'LINK'}/qr?size=Infinity`, field: 'size' },
    { name: 'QR margin=1e400', url: `/v1/links/${'LINK'}/qr?margin=1e400`, field: 'margin' },
    // dates: year 0000, out-of-range offsets, impossible dates
    { name: 'created_from year 0000', url: '/v1/links?created_from=0000-01-01', field: 'created_from' },
    { name: 'updated_to year 0000 with time', url: '/v1/links?updated_to=0000-06-01T00:00:00Z', field: 'updated_to' },
    { name: 'created_to offset +99:99', url: `/v1/links?created_to=${encodeURIComponent('2026-01-01T00:00:00+99:99')}`, field: 'created_to' },
    { name: 'created_from Feb 30', url: '/v1/links?created_from=2026-02-30', field: 'created_from' },
    { name: 'stats from year 0000', url: '/v1/stats?from=0000-01-01', field: 'from' },
    { name: 'stats to offset +24:00', url: `/v1/stats?to=${encodeURIComponent('2026-01-01T00:00:00+24:00')}`, field: 'to' },
    { name: 'link stats from hour 25', url: `/v1/links/${'LINK'}/stats?from=2026-01-01T25:00:00Z`, field: 'from' },
    { name: 'clicks from year 0000', url: `/v1/links/${'LINK'}/clicks?from=0000-01-01`, field: 'from' },
    { name: 'clicks to offset -99:00', url: `/v1/links/${'LINK'}/clicks?to=${encodeURIComponent('2026-01-01T00:00:00-99:00')}`, field: 'to' },
    { name: 'deliveries from year 0000', url: '/v1/webhooks/deliveries?from=0000-01-01', field: 'from' },
    { name: 'replay to Feb 31', method: 'POST', url: `/v1/webhooks/endpoints/${'ENDPOINT'}/replay`, payload: { to: '2026-02-31' }, field: 'to' },
    { name: 'expires_at year 0000', method: 'POST', url: '/v1/links', payload: link({ expires_at: '0000-01-01T00:00:00Z' }), field: 'expires_at' },
    { name: 'expires_at offset +23:59 past year 9999', method: 'POST', url: '/v1/links', payload: link({ expires_at: '9999-12-31T23:59:59-23:59' }), field: 'expires_at' },
    { name: 'expires_at Feb 30', method: 'POST', url: '/v1/links', payload: link({ expires_at: '2026-02-30T00:00:00Z' }), field: 'expires_at' },
    { name: 'PATCH expires_at year 0000', method: 'PATCH', url: `/v1/links/${'LINK'}`, payload: { expires_at: '0000-01-01T00:00:00Z' }, field: 'expires_at' },
    { name: 'rule time year 0000', method: 'POST', url: '/v1/links', payload: link({ routing: { rules: [{ when: { time: { from: '0000-01-01T00:00:00Z' } }, url: 'https://example.org/t' }] } }), field: 'routing.rules[0].when.time.from' },
    { name: 'stats to 9999-12-31T12:00Z (its day bucket ends in year 10000)', url: '/v1/stats?to=9999-12-31T12:00:00Z', field: 'to' },
    // forged cursors
    { name: 'clicks cursor: UUIDv7 time far in the future', url: `/v1/links/${'LINK'}/clicks?cursor=${cursorOf({ v: 1, c: 'ffffffff-ffff-7fff-bfff-ffffffffffff' })}`, code: 'invalid_cursor', field: 'cursor' },
    { name: 'clicks cursor: garbage', url: `/v1/links/${'LINK'}/clicks?cursor=%%%`, code: 'invalid_cursor', field: 'cursor' },
    { name: 'job errors cursor: index past 2^31', url: `/v1/jobs/${'JOB'}/errors?cursor=${cursorOf({ v: 1, idx: 2 ** 31 })}`, code: 'invalid_cursor', field: 'cursor' },
    { name: 'job errors cursor: index 1e300', url: `/v1/jobs/${'JOB'}/errors?cursor=${cursorOf({ v: 1, idx: 1e300 })}`, code: 'invalid_cursor', field: 'cursor' },
    { name: 'links cursor: garbage', url: `/v1/links?cursor=${cursorOf({ v: 1, id: 'ln_\u0000' })}`, code: 'invalid_cursor', field: 'cursor' },
    // nesting
    { name: 'metadata nested 5 000 deep', method: 'POST', url: '/v1/links', payload: withMetadata(link(), 5000), field: `metadata${'.a'.repeat(31)}` },
    { name: 'metadata nested 32 deep', method: 'POST', url: '/v1/links', payload: link({ metadata: nested(32) }), field: `metadata${'.a'.repeat(31)}` },
    { name: 'PATCH metadata nested 5 000 deep', method: 'PATCH', url: `/v1/links/${'LINK'}`, payload: withMetadata({}, 5000), field: `metadata${'.a'.repeat(31)}` },
    { name: 'array nested 5 000 deep in tags', method: 'POST', url: '/v1/links', payload: `{"domain":"go.bad-input.example.com","destination_url":"https://example.org/","tags":${'['.repeat(5000)}${']'.repeat(5000)}}`, field: `tags${'[0]'.repeat(31)}` },
  ];

  it('each reproduced case is a 400 with the exact code and field', async () => {
    const out: string[] = [];
    for (const c of cases()) {
      const url = c.url.replace('LINK', linkId).replace('JOB', jobId).replace('ENDPOINT', endpointId);
      const json = typeof c.payload === 'string' ? { 'content-type': 'application/json' } : {};
      const r = await h.req({ method: c.method ?? 'GET', url, ...(c.payload !== undefined ? { payload: c.payload as object } : {}), headers: { ...json, ...c.headers } });
      const body = r.headers['content-type']?.toString().startsWith('application/json') ? r.json() : r.body;
      const got = `${r.statusCode} ${body?.error?.code} ${body?.error?.details?.field}`;
      const want = `400 ${c.code ?? 'validation_failed'} ${c.field}`;
      if (got !== want) out.push(`${c.name}: got ${got} (${JSON.stringify(body).slice(0, 200)}), want ${want}`);
    }
    expect(out).toEqual([]);
  });

  it('the edges stay accepted: 31 levels of metadata, offsets up to ±23:59, years 0001 and 9999', async () => {
    const deep = await h.req({ method: 'POST', url: '/v1/links', payload: link({ path: 'deep-31', metadata: nested(31) as Record<string, unknown> }) });
    expect(deep.statusCode).toBe(201);
    const exp = await h.req({ method: 'POST', url: '/v1/links', payload: link({ path: 'exp', expires_at: '2030-01-01T00:00:00+23:59' }) });
    expect(exp.statusCode).toBe(201);
    expect(exp.json().expires_at).toBe('2029-12-31T00:01:00.000Z');
    const range = await h.req({ method: 'GET', url: '/v1/links?created_from=0001-01-01&created_to=9999-12-31T23:59:59.999Z&limit=1000' });
    expect(range.statusCode).toBe(200);
    expect(range.json().total_estimate).toBe(3);
    const q = await h.req({ method: 'GET', url: '/v1/links?q=Infinity' });
    expect(q.statusCode).toBe(200);
  });
});
