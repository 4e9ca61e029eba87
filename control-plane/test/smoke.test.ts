import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('harness smoke', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('smoke');
  });
  afterAll(async () => {
    await h.close();
  });

  it('creates a domain and a link', async () => {
    const domain = await createDomain(h);
    const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'hello', destination_url: 'https://example.org/x' } });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ domain, path: 'hello', short_url: `https://${domain}/hello` });
  });
});
