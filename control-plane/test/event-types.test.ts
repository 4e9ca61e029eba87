/**
 * GET /v1/webhooks/event-types (issue 15): the catalog lists every event type in order, says which
 * can be subscribed to, and each type's data schema accepts the payloads the product really sends.
 */
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES, type ClickEvent } from '../../shared/index.js';
import type { EventTypeEntry } from '../http/event-types.js';
import { clickEventData } from '../ingest/click-webhook-events.js';
import { createDomain, createHarness, type Harness } from './harness.js';

describe('GET /v1/webhooks/event-types', () => {
  let h: Harness;
  let catalog: { envelope: Record<string, unknown>; data: EventTypeEntry[] };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const check = (type: string, data: unknown) => {
    const entry = catalog.data.find((e) => e.type === type)!;
    const validate = ajv.compile(entry.data_schema);
    expect([type, validate(data), validate.errors ?? null]).toEqual([type, true, null]);
  };

  beforeAll(async () => {
    h = await createHarness('event_types', { WEBHOOK_ALLOW_PRIVATE: 'true', JOB_WORKERS: '0' });
    const r = await h.req({ method: 'GET', url: '/v1/webhooks/event-types' });
    expect(r.statusCode).toBe(200);
    catalog = r.json();
  });
  afterAll(async () => h?.close());

  it('lists every type once, in catalog order; only webhook.ping cannot be subscribed to', () => {
    expect(catalog.data.map((e) => e.type)).toEqual([...WEBHOOK_EVENT_TYPES]);
    expect(catalog.data.filter((e) => !e.subscribable).map((e) => e.type)).toEqual(['webhook.ping']);
    expect(catalog.data.find((e) => e.type === 'link.created')!.description).toBe('a link was created through the API');
    expect(Object.keys(catalog.envelope.properties as object)).toEqual(['id', 'type', 'occurred_at', 'data', 'attempt']);
    for (const e of catalog.data) expect([e.type, e.data_schema.type, '$id' in e.data_schema]).toEqual([e.type, 'object', false]);
  });

  it('the data schemas accept real payloads: a link, a job, a click, a ping', async () => {
    const domain = await createDomain(h);
    const link = await h.req({ method: 'POST', url: '/v1/links', payload: { domain, destination_url: 'https://example.com/', utm: { source: 'x' }, tags: ['a'] } });
    for (const t of ['link.created', 'link.updated', 'link.disabled', 'link.deleted']) check(t, link.json());
    const job = await h.req({ method: 'POST', url: '/v1/links/bulk', payload: { operation: 'create', items: [{ domain, destination_url: 'https://example.org/' }] } });
    check('job.succeeded', job.json<{ job: unknown }>().job);
    const click: ClickEvent = {
      v: 1, id: '01890a5d-ac96-774b-bcce-b302099a8057', occurredAt: Date.parse('2026-12-03T08:00:00Z'), linkId: 'ln_01ARZ3NDEKTSV4RRFFQ69G5FAV',
      workspaceId: 'ws_1', domain, path: 'p', destination: 'https://example.com/?utm_source=x', ruleId: null, variantId: 'a', country: 'DE',
      deviceClass: 'mobile', os: 'ios', browser: 'safari', referrerHost: null, language: 'de', bot: false, qr: true, utm: { source: 'x' },
      nodeId: 'node-1', visitorHash: '00112233445566778899aabbccddeeff',
    };
    check('click.created', clickEventData(click, 'https'));
    const ep = await h.req({ method: 'POST', url: '/v1/webhooks/endpoints', payload: { url: 'http://127.0.0.1:9/hook' } });
    const ping = await h.req({ method: 'POST', url: `/v1/webhooks/endpoints/${ep.json<{ id: string }>().id}/test`, payload: {} });
    const delivery = await h.req({ method: 'GET', url: `/v1/webhooks/deliveries/${ping.json<{ id: string }>().id}` });
    const event = delivery.json<{ event: { type: string; data: unknown } }>().event;
    expect(event.type).toBe('webhook.ping');
    check('webhook.ping', event.data);
  });

  it('a key without webhooks:read gets 403; without a key 401', async () => {
    const analyst = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'an', role: 'analyst' } })).json<{ secret: string }>().secret;
    expect((await h.req({ method: 'GET', url: '/v1/webhooks/event-types', key: analyst })).statusCode).toBe(403);
    expect((await h.req({ method: 'GET', url: '/v1/webhooks/event-types', key: null })).statusCode).toBe(401);
  });
});
