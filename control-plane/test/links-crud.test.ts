import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('links: CRUD round trip', () => {
  let h: Harness;
  let domain: string;
  beforeAll(async () => {
    h = await createHarness('links_crud');
    domain = await createDomain(h, 'go.crud.example.com', { utm_template: { source: 'brand', medium: 'email' } });
  });
  afterAll(async () => {
    await h.close();
  });

  it('creates, reads, updates, lists and soft-deletes a link', async () => {
    const create = await h.req({
      method: 'POST', url: '/v1/links',
      payload: {
        domain, path: 'spring-2026', destination_url: 'https://www.example.com/landing?sale=2026',
        utm: { campaign: 'spring_sale', medium: 'newsletter' }, tags: ['email', 'spring2026', 'email'],
        expires_at: '2030-06-30T23:59:59Z', metadata: { owner: 'team_marketing' }, external_id: 'cms-42',
      },
    });
    expect(create.statusCode).toBe(201);
    const link = create.json();
    expect(link.id).toMatch(/^ln_[0-9A-Z]{26}$/);
    expect(create.headers.location).toBe(`/v1/links/${link.id}`);
    expect(link).toMatchObject({
      domain, path: 'spring-2026', short_url: `https://${domain}/spring-2026`,
      destination_url: 'https://www.example.com/landing?sale=2026',
      utm: { campaign: 'spring_sale', medium: 'newsletter' }, tags: ['email', 'spring2026'],
      expires_at: '2030-06-30T23:59:59.000Z', disabled: false, status: 'live', forward_query: false,
      redirect_status: null, metadata: { owner: 'team_marketing' }, external_id: 'cms-42', version: 1, routing: null,
    });

    const get = await h.req({ method: 'GET', url: `/v1/links/${link.id}` });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toEqual(link);

    const patch = await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, payload: { destination_url: 'https://www.example.com/v2', disabled: true, utm: null } });
    expect(patch.statusCode).toBe(200);
    expect(patch.json()).toMatchObject({ destination_url: 'https://www.example.com/v2', disabled: true, utm: null, version: 2, path: 'spring-2026' });

    // the compiled rule in the outbox carries the domain template once the link's utm is cleared
    const outbox = await h.pool.query<{ op: string; payload: Buffer }>('SELECT op, payload FROM link_outbox ORDER BY seq DESC LIMIT 1');
    expect(outbox.rows[0]!.op).toBe('put');
    const compiled = JSON.parse(outbox.rows[0]!.payload.toString());
    expect(compiled).toMatchObject({ kind: 'link', linkId: link.id, version: 2, disabled: true, destination: 'https://www.example.com/v2?utm_source=brand&utm_medium=email' });

    const events = await h.pool.query<{ type: string }>(`SELECT type FROM events WHERE data->>'id' = $1 ORDER BY created_at, type`, [link.id]);
    expect(events.rows.map((r) => r.type).sort()).toEqual(['link.created', 'link.disabled', 'link.updated']);

    const list = await h.req({ method: 'GET', url: `/v1/links?domain=${domain}&tag=spring2026` });
    expect(list.json()).toMatchObject({ total_estimate: 1, next_cursor: null });
    expect(list.json().data[0].id).toBe(link.id);

    const del = await h.req({ method: 'DELETE', url: `/v1/links/${link.id}` });
    expect(del.statusCode).toBe(200);
    expect((await h.req({ method: 'GET', url: `/v1/links/${link.id}` })).statusCode).toBe(404);
    const lastOutbox = await h.pool.query<{ op: string }>('SELECT op FROM link_outbox ORDER BY seq DESC LIMIT 1');
    expect(lastOutbox.rows[0]!.op).toBe('del');

    // the path is free again
    const again = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'spring-2026', destination_url: 'https://x.example.org/' } });
    expect(again.statusCode).toBe(201);
    expect(again.json().id).not.toBe(link.id);

    const audit = await h.pool.query<{ action: string }>(`SELECT action FROM audit_log WHERE resource_id = $1 ORDER BY id`, [link.id]);
    expect(audit.rows.map((r) => r.action)).toEqual(['link.create', 'link.update', 'link.delete']);
  });

  it('PATCH metadata: application/json replaces it whole, application/merge-patch+json merges it (null deletes a key) (issue 15)', async () => {
    const made = await h.req({
      method: 'POST', url: '/v1/links',
      payload: { domain, path: 'merge-meta', destination_url: 'https://example.org/m', metadata: { owner: 'ann', team: { a: 1, b: 2 }, list: [1, 2] } },
    });
    expect(made.statusCode, made.body).toBe(201);
    const url = `/v1/links/${made.json<{ id: string }>().id}`;
    const patch = (type: string, payload: string) => h.req({ method: 'PATCH', url, headers: { 'content-type': type }, payload });

    const merged = await patch('application/merge-patch+json', JSON.stringify({ metadata: { owner: null, team: { b: null, c: 3 }, list: [3], added: 'x' }, tags: ['t1'] }));
    expect(merged.statusCode, merged.body).toBe(200);
    expect(merged.json().metadata).toEqual({ team: { a: 1, c: 3 }, list: [3], added: 'x' });
    expect(merged.json().tags).toEqual(['t1']);
    expect((await h.req({ method: 'GET', url })).json().metadata).toEqual({ team: { a: 1, c: 3 }, list: [3], added: 'x' });

    const replaced = await patch('application/json', JSON.stringify({ metadata: { only: true } }));
    expect(replaced.statusCode).toBe(200);
    expect(replaced.json().metadata).toEqual({ only: true });

    // merge-patch bodies are parsed and validated like JSON ones
    const bad = await patch('application/merge-patch+json', '{"metadata":');
    expect(bad.statusCode).toBe(400);
    // the OpenAPI document offers both media types with the same schema
    const doc = (await h.req({ method: 'GET', url: '/v1/openapi.json', key: null })).json();
    const content = doc.paths['/v1/links/{id}'].patch.requestBody.content;
    expect(Object.keys(content).sort()).toEqual(['application/json', 'application/merge-patch+json']);
    expect(content['application/merge-patch+json'].schema).toEqual(content['application/json'].schema);
    // and only this route takes the media type
    const post = await h.req({ method: 'POST', url: '/v1/links', headers: { 'content-type': 'application/merge-patch+json' }, payload: JSON.stringify({ domain, destination_url: 'https://example.org/x' }) });
    expect(post.statusCode).toBe(415);
    expect(post.json().error.code).toBe('unsupported_media_type');
  });

  it('generates unguessable base62 paths when none is given', async () => {
    const paths = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, destination_url: 'https://example.org/g' } });
      expect(r.statusCode).toBe(201);
      expect(r.json().path).toMatch(/^[0-9A-Za-z]{7,}$/);
      paths.add(r.json().path);
    }
    expect(paths.size).toBe(20);
  });

  it('409 path_conflict names the existing link; on_conflict=suffix gives deal-2, deal-3', async () => {
    const first = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'deal', destination_url: 'https://example.org/1' } });
    const conflict = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'deal', destination_url: 'https://example.org/2' } });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error).toMatchObject({ code: 'path_conflict', details: { field: 'path', path: 'deal', existing_link_id: first.json().id } });
    const s2 = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'deal', destination_url: 'https://example.org/2', on_conflict: 'suffix' } });
    const s3 = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'deal', destination_url: 'https://example.org/3', on_conflict: 'suffix' } });
    expect([s2.statusCode, s3.statusCode]).toEqual([201, 201]);
    expect([s2.json().path, s3.json().path]).toEqual(['deal-2', 'deal-3']);
  });

  it('paths are case-sensitive and NFC-normalized', async () => {
    const a = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'Case', destination_url: 'https://example.org/a' } });
    const b = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'case', destination_url: 'https://example.org/b' } });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const nfd = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'cafe\u0301', destination_url: 'https://example.org/c' } });
    expect(nfd.json().path).toBe('caf\u00e9');
    const nfc = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'caf\u00e9', destination_url: 'https://example.org/c' } });
    expect(nfc.statusCode).toBe(409);
  });

  it('PATCH moving a link to a taken path is a 409 and changes nothing', async () => {
    const a = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'move-a', destination_url: 'https://example.org/a' } })).json();
    await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'move-b', destination_url: 'https://example.org/b' } });
    const r = await h.req({ method: 'PATCH', url: `/v1/links/${a.id}`, payload: { path: 'move-b', destination_url: 'https://example.org/changed' } });
    expect(r.statusCode).toBe(409);
    const after = (await h.req({ method: 'GET', url: `/v1/links/${a.id}` })).json();
    expect(after).toMatchObject({ path: 'move-a', destination_url: 'https://example.org/a', version: 1 });
  });

  it('PATCH of the path unpublishes the old key and publishes the new one', async () => {
    const a = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'old-path', destination_url: 'https://example.org/a' } })).json();
    await h.req({ method: 'PATCH', url: `/v1/links/${a.id}`, payload: { path: 'new-path' } });
    const { rows } = await h.pool.query<{ op: string; kv_key: string }>('SELECT op, kv_key FROM link_outbox ORDER BY seq DESC LIMIT 2');
    const decode = (k: string) => Buffer.from(k.slice(2), 'base64url').toString();
    expect(rows.reverse().map((r) => [r.op, decode(r.kv_key)])).toEqual([['del', `${domain}/old-path`], ['put', `${domain}/new-path`]]);
  });

  it('QR code: PNG and SVG of the short URL marked qr=1', async () => {
    const l = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain, path: 'qr-me', destination_url: 'https://example.org/q' } })).json();
    const png = await h.req({ method: 'GET', url: `/v1/links/${l.id}/qr?format=png&size=256` });
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.rawPayload.readUInt32BE(16)).toBe(256); // IHDR width
    const svg = await h.req({ method: 'GET', url: `/v1/links/${l.id}/qr?format=svg` });
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    expect(svg.body).toContain('<svg');
    expect((await h.req({ method: 'GET', url: `/v1/links/${l.id}/qr?size=64` })).json().error).toMatchObject({ code: 'validation_failed', details: { field: 'size' } });
  });

  it('domains: hostname belongs to one workspace; settings changes recompile links', async () => {
    const dup = await h.req({ method: 'POST', url: '/v1/domains', payload: { hostname: 'GO.CRUD.example.com' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('hostname_taken');
    const d = await h.req({ method: 'POST', url: '/v1/domains', payload: { hostname: 'recompile.example.com' } });
    const l = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain: 'recompile.example.com', path: 'x', destination_url: 'https://example.org/x' } })).json();
    const patch = await h.req({ method: 'PATCH', url: `/v1/domains/${d.json().id}`, payload: { utm_template: { source: 'tpl' }, default_redirect_status: 301, not_found_url: 'https://example.org/404' } });
    expect(patch.statusCode).toBe(200);
    const { rows } = await h.pool.query<{ payload: Buffer }>(`SELECT payload FROM link_outbox WHERE op = 'put' ORDER BY seq DESC LIMIT 2`);
    const compiled = rows.map((r) => JSON.parse(r.payload.toString()));
    const linkRule = compiled.find((c) => c.kind === 'link');
    const domainRule = compiled.find((c) => c.kind === 'domain');
    expect(linkRule).toMatchObject({ linkId: l.id, redirectStatus: 301, destination: 'https://example.org/x?utm_source=tpl' });
    expect(domainRule).toMatchObject({ hostname: 'recompile.example.com', notFoundUrl: 'https://example.org/404' });
    const inUse = await h.req({ method: 'DELETE', url: `/v1/domains/${d.json().id}` });
    expect(inUse.json().error.code).toBe('domain_in_use');
    await h.req({ method: 'DELETE', url: `/v1/links/${l.id}` });
    expect((await h.req({ method: 'DELETE', url: `/v1/domains/${d.json().id}` })).statusCode).toBe(200);
  });
});
