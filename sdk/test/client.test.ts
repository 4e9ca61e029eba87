/**
 * The SDK against a live control plane (real process, Postgres, NATS), through a proxy that
 * loses answers and refuses requests: retries keep one Idempotency-Key so a retried create makes
 * one link; typed errors carry the API's code, field and request id; lists page to the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, Linkplane, NotFoundError, ServerError, ValidationError, type RetryInfo } from '@linkplane/sdk';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startLiveStack, type LiveStack } from './live-stack.js';

describe('SDK client against a live control plane', () => {
  let stack: LiveStack;
  let proxy: FaultProxy;
  let lp: Linkplane;
  const retries: RetryInfo[] = [];

  beforeAll(async () => {
    stack = await startLiveStack('sdkclient');
    proxy = await startFaultProxy(stack.apiUrl);
    lp = new Linkplane({ apiUrl: proxy.url, apiKey: stack.adminKey, retry: { retries: 3, baseDelayMs: 5 }, onRetry: (r) => retries.push(r) });
  });
  afterAll(async () => {
    await proxy?.close();
    await stack?.close();
  });

  const lastSeen = (n: number) => proxy.seen.slice(-n);

  it('creates, reads, updates, lists and deletes a link', async () => {
    const link = await lp.links.create({ domain: stack.domain, path: 'crud', destination_url: 'https://example.com/a', tags: ['crud'] });
    expect(link).toMatchObject({ domain: stack.domain, path: 'crud', short_url: `http://${stack.domain}/crud`, destination_url: 'https://example.com/a', tags: ['crud'] });
    expect(await lp.links.get(link.id)).toEqual(link);
    const updated = await lp.links.update(link.id, { destination_url: 'https://example.com/b' });
    expect(updated.destination_url).toBe('https://example.com/b');
    expect(updated.version).toBe(link.version + 1);
    expect((await lp.links.list({ tag: 'crud' }).toArray()).map((l) => l.id)).toEqual([link.id]);
    await lp.links.delete(link.id);
    const err = await lp.links.get(link.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'link_not_found' });
  });

  it('every mutating call carries an Idempotency-Key; reads do not', async () => {
    const link = await lp.links.create({ domain: stack.domain, path: 'keyed', destination_url: 'https://example.com/k' });
    await lp.links.get(link.id);
    const [post, get] = lastSeen(2);
    expect(post!.method).toBe('POST');
    expect(post!.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(get!.method).toBe('GET');
    expect(get!.idempotencyKey).toBeUndefined();
  });

  it('a create whose answer was lost (503 after the API did it) is retried with the same key: one link', async () => {
    retries.length = 0;
    proxy.plan({ kind: 'lose-answer', status: 503 });
    const res = await lp.request<{ id: string }>({
      method: 'POST', path: '/v1/links', body: { json: { domain: stack.domain, path: 'lost-answer', destination_url: 'https://example.com/l', external_id: 'lost-1' } },
    });
    const [first, second] = lastSeen(2);
    expect(first!.apiStatus).toBe(201);
    expect(second!.apiStatus).toBe(201);
    expect(second!.idempotencyKey).toBe(first!.idempotencyKey);
    expect(res.replayed).toBe(true);
    expect(res.idempotencyKey).toBe(first!.idempotencyKey);
    expect(retries).toMatchObject([{ attempt: 1, status: 503, method: 'POST', idempotencyKey: first!.idempotencyKey }]);
    expect((await lp.links.list({ external_id: 'lost-1' }).toArray()).map((l) => l.id)).toEqual([res.data.id]);
  });

  it('a connection dropped after the API did the work is retried the same way', async () => {
    retries.length = 0;
    proxy.plan({ kind: 'drop-after' });
    const link = await lp.links.create({ domain: stack.domain, path: 'dropped', destination_url: 'https://example.com/d', external_id: 'drop-1' });
    const [first, second] = lastSeen(2);
    expect([first!.apiStatus, second!.apiStatus]).toEqual([201, 201]);
    expect(second!.idempotencyKey).toBe(first!.idempotencyKey);
    expect(retries).toMatchObject([{ attempt: 1, status: 0, code: 'network_error' }]);
    expect((await lp.links.list({ external_id: 'drop-1' }).toArray()).map((l) => l.id)).toEqual([link.id]);
  });

  it('429 with Retry-After waits exactly what the server asked', async () => {
    retries.length = 0;
    proxy.plan({ kind: 'refuse', status: 429, retryAfter: '1' });
    const link = await lp.links.create({ domain: stack.domain, path: 'limited', destination_url: 'https://example.com/r' });
    expect(link.path).toBe('limited');
    expect(retries).toMatchObject([{ attempt: 1, status: 429, code: 'rate_limited', delayMs: 1000 }]);
  });

  it('gives up after its retries with a typed error; every attempt used the same key', async () => {
    const two = new Linkplane({ apiUrl: proxy.url, apiKey: stack.adminKey, retry: { retries: 2, baseDelayMs: 1 } });
    proxy.plan({ kind: 'refuse', status: 503 }, { kind: 'refuse', status: 503 }, { kind: 'refuse', status: 503 });
    const before = proxy.seen.length;
    const err = await two.links.create({ domain: stack.domain, path: 'never', destination_url: 'https://example.com/n' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect(err).toMatchObject({ status: 503, code: 'service_unavailable' });
    const attempts = proxy.seen.slice(before);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.idempotencyKey)).size).toBe(1);
  });

  it('4xx is not retried and carries code, field, details and the request id', async () => {
    const before = proxy.seen.length;
    const err = await lp.links.create({ domain: stack.domain, path: 'bad', destination_url: 'javascript:alert(1)' }, { requestId: 'sdk-test-bad-url' }).catch((e: unknown) => e);
    expect(proxy.seen.length - before).toBe(1);
    expect(err).toBeInstanceOf(ValidationError);
    const e = err as ValidationError;
    expect(e.status).toBe(422);
    expect(e.code).toBe('invalid_url');
    expect(e.field).toBe('destination_url');
    expect(e.requestId).toBe('sdk-test-bad-url');
    expect(e.details.field).toBe('destination_url');
  });

  it("the caller's Idempotency-Key: same body → same link, other body → idempotency_key_reused", async () => {
    const body = { domain: stack.domain, path: 'caller-key', destination_url: 'https://example.com/c' };
    const a = await lp.links.create(body, { idempotencyKey: 'article-42' });
    const b = await lp.links.create(body, { idempotencyKey: 'article-42' });
    expect(b.id).toBe(a.id);
    expect(lastSeen(1)[0]!.idempotencyKey).toBe('article-42');
    const err = await lp.links.create({ ...body, destination_url: 'https://example.com/other' }, { idempotencyKey: 'article-42' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
  });

  it('lists page to the end, one request per page, as you iterate', async () => {
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await lp.links.create({ domain: stack.domain, path: `paged-${i}`, destination_url: 'https://example.com/p', tags: ['paged'] })).id);
    const before = proxy.seen.length;
    const ids: string[] = [];
    for await (const link of lp.links.list({ tag: 'paged', limit: 2 })) ids.push(link.id);
    expect(ids.sort()).toEqual([...made].sort());
    const gets = proxy.seen.slice(before);
    expect(gets.map((g) => new URL(g.url, 'http://x').searchParams.has('cursor'))).toEqual([false, true, true]);
    expect(await lp.links.list({ tag: 'paged', limit: 2 }).toArray(3)).toHaveLength(3);
    const pages = [];
    for await (const page of lp.links.list({ tag: 'paged', limit: 2 }).pages()) pages.push(page.data.length);
    expect(pages).toEqual([2, 2, 1]);
  });

  it('a bad key is an AuthenticationError', async () => {
    const bad = new Linkplane({ apiUrl: stack.apiUrl, apiKey: 'lp_not_a_real_key_0123456789' });
    const err = await bad.links.list().page().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});
