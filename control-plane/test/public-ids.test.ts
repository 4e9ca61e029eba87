/**
 * One id scheme for everything a client sees (docs/ids.md): a real control-plane process (real
 * Postgres, NATS, ingest, webhook dispatcher, job worker) is driven through the API, clicks go
 * through the real ingest, webhooks and a job callback reach a real receiver — and every id-bearing
 * field of every answer, export, payload and header is `<prefix>_` + 26 Crockford base32
 * characters with the prefix its field names. Path and query ids of any other form are 400
 * invalid_id; the OpenAPI document gives each id field its pattern.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { cleanupNatsPrefix, createTestDatabase, freePort, startProcess, testPrefix, TEST_NATS_URL, waitFor, waitForHttp, type RunningProcess, type TestDatabase } from '../../shared/testing/index.js';
import { connect } from '@nats-io/transport-node';
import { idPattern, idToUuid, isId, type IdPrefix } from '../ids.js';
import { makeClicks, publishClicks } from './click-fixtures.js';
import { startReceiver, type Receiver } from './webhooks-helpers.js';

const KEY = 'lp_public_ids_test_admin_key_0000000001';

/** The prefix a field's name implies; `id` itself takes the resource's prefix (checked as any id). */
const FIELD_PREFIX: Record<string, IdPrefix> = {
  link_id: 'ln', endpoint_id: 'whe', event_id: 'evt', delivery_id: 'whd', click_id: 'clk', job_id: 'job',
  key_id: 'whk', secret_key_id: 'whk',
};
/** Id-named fields that are not resource ids: names the client chose, the node's name, a correlation id. */
const NOT_RESOURCE_IDS = new Set(['rule_id', 'variant_id', 'external_id', 'node_id', 'request.id', 'rules.id', 'variants.id', 'ab.id']);

/** JSON Schema keywords between a property and its sub-properties. */
const STRUCTURAL = new Set(['properties', 'items', 'anyOf', 'oneOf', 'allOf']);

/** Every (path, value) of an id-named field in `v`. */
function idFields(v: unknown, path = '', parent = ''): [string, string, unknown][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => idFields(x, `${path}[${i}]`, parent));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => {
    const own: [string, string, unknown][] = (k === 'id' || k.endsWith('_id')) && !NOT_RESOURCE_IDS.has(k) && !NOT_RESOURCE_IDS.has(`${parent}.${k}`) && x !== null
      ? [[`${path}.${k}`, k, x]] : [];
    return [...own, ...idFields(x, `${path}.${k}`, k)];
  });
}

function expectIds(where: string, v: unknown): number {
  const fields = idFields(v);
  for (const [path, name, value] of fields) {
    expect(typeof value === 'string' && isId(value), `${where} ${path} = ${JSON.stringify(value)}`).toBe(true);
    const prefix = FIELD_PREFIX[name];
    if (prefix) expect(value, `${where} ${path}`).toMatch(new RegExp(idPattern(prefix)));
  }
  return fields.length;
}

describe('public ids', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let receiver: Receiver;
  let base: string;
  const prefix = testPrefix('pubids');
  const seen: { where: string; body: unknown }[] = [];
  const ids: Record<string, string> = {};

  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const json = r.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) as unknown : text;
    if (typeof json !== 'string') seen.push({ where: `${method} ${path} → ${r.status}`, body: json });
    return { status: r.status, json: json as Record<string, unknown> & { data?: Record<string, unknown>[] }, text, headers: r.headers };
  };

  beforeAll(async () => {
    db = await createTestDatabase('public_ids');
    receiver = await startReceiver();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    cp = startProcess('control-plane/main.js', {
      PORT: String(port), OPS_PORT: String(await freePort()), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY,
      WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50', JOB_POLL_MS: '50', CLICK_ROLLUP_COMPACT_MS: '200',
      // the bad-id sweep alone sends ~300 requests with one key in a few seconds; the default bucket
      // (200, 20/s) made the call after it a 429 on a slow CI machine
      RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '10000',
    });
    await waitForHttp(`${base}/readyz`, 200, 60_000);

    const ep = await api('POST', '/v1/webhooks/endpoints', { url: `${new URL(receiver.url).origin}/hook` });
    expect(ep.status, ep.text).toBe(201);
    ids.endpoint = ep.json.id as string;
    expect((await api('POST', '/v1/domains', { hostname: 'go.ids.example.com' })).status).toBe(201);
    const link = await api('POST', '/v1/links', { domain: 'go.ids.example.com', path: 'ab', destination_url: 'https://example.org/',
      routing: { ab: [{ id: 'a', url: 'https://example.org/a', weight: 1 }, { id: 'b', url: 'https://example.org/b', weight: 1 }] } });
    expect(link.status, link.text).toBe(201);
    ids.link = link.json.id as string;
    expect((await api('PATCH', `/v1/links/${ids.link}`, { tags: ['x'] })).status).toBe(200);
    const key = await api('POST', '/v1/keys', { name: 'reader', role: 'analyst' });
    expect(key.status).toBe(201);
    ids.key = key.json.id as string;
    const job = await api('POST', '/v1/links/bulk', { operation: 'create', callback_url: `${new URL(receiver.url).origin}/callback`,
      items: [{ domain: 'go.ids.example.com', path: 'bulk-1', destination_url: 'https://example.org/1' }, { domain: 'nope.example', path: 'x', destination_url: 'https://example.org/' }] });
    expect(job.status, job.text).toBe(202);
    ids.job = (job.json.job_id ?? job.json.id) as string;
    await waitFor('job done', async () => ['succeeded', 'partially_succeeded', 'failed'].includes((await api('GET', `/v1/jobs/${ids.job}`)).json.status as string), 30_000, 100);

    // clicks through the real ingest: click.created and rule.variant_chosen reach the receiver
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const workspaceId = (await c.query<{ workspace_id: string }>('SELECT workspace_id FROM links WHERE id = $1', [ids.link])).rows[0]!.workspace_id;
    await c.end();
    const nc = await connect({ servers: TEST_NATS_URL });
    const clicks = makeClicks(20, [{ id: ids.link, workspaceId, domain: 'go.ids.example.com', path: 'ab' }], { start: Date.now() - 60_000, spacingMs: 100, seed: 9 })
      .map((x) => ({ ...x, bot: false, qr: false, deviceClass: 'desktop' }));
    await publishClicks(nc, prefix, clicks);
    await nc.close();
    ids.clickUuid = clicks[0]!.id;
    const types = () => new Set(receiver.requests.filter((r) => r.path === '/hook').map((r) => (JSON.parse(r.body.toString()) as { type: string }).type));
    await waitFor('webhooks and callback', async () => {
      const t = types();
      return ['link.created', 'link.updated', 'job.failed', 'click.created', 'rule.variant_chosen'].every((x) => t.has(x) || (x === 'job.failed' && t.has('job.succeeded')))
        && receiver.requests.some((r) => r.path === '/callback');
    }, 30_000, 100);
    const test = await api('POST', `/v1/webhooks/endpoints/${ids.endpoint}/test`);
    expect(test.status).toBe(202);
    await api('POST', `/v1/webhooks/endpoints/${ids.endpoint}/secrets/rotate`, {});
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
    await receiver?.close();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('every id in every API answer has the documented form', async () => {
    const deliveries = await api('GET', '/v1/webhooks/deliveries?limit=100');
    expect(deliveries.status).toBe(200);
    const d0 = deliveries.json.data![0]!;
    const gets = [
      `/v1/links/${ids.link}`, '/v1/links', '/v1/domains', '/v1/keys', `/v1/webhooks/endpoints/${ids.endpoint}`, '/v1/webhooks/endpoints',
      `/v1/webhooks/deliveries/${d0.id as string}`, `/v1/webhooks/deliveries?event_id=${d0.event_id as string}`, '/v1/jobs', `/v1/jobs/${ids.job}`,
      `/v1/jobs/${ids.job}/errors`, `/v1/links/${ids.link}/stats?group_by=variant`, '/v1/stats', `/v1/links/${ids.link}/clicks`, '/v1/audit',
    ];
    for (const g of gets) expect((await api('GET', g)).status, g).toBe(200);
    // a filter takes the id in the form it was shown
    const byEvent = await api('GET', `/v1/webhooks/deliveries?event_id=${d0.event_id as string}`);
    expect(byEvent.json.data!.map((x) => x.id)).toEqual([d0.id]);
    let n = 0;
    for (const s of seen) n += expectIds(s.where, s.body);
    expect(n).toBeGreaterThan(150);
    // the kinds of id the walk met
    const kinds = new Set(seen.flatMap((s) => idFields(s.body).map(([, , v]) => String(v).split('_')[0])));
    expect([...kinds].sort()).toEqual(['aud', 'clk', 'dom', 'evt', 'job', 'key', 'ln', 'whd', 'whe', 'whk'].sort());
  });

  it('click ids in the JSON page and both exports are the node\'s UUIDv7, shown as clk_ and parsing back to it', async () => {
    const page = await api('GET', `/v1/links/${ids.link}/clicks?limit=1000`);
    const pageIds = page.json.data!.map((c) => c.id as string);
    expect(pageIds).toHaveLength(20);
    for (const id of pageIds) expect(id).toMatch(new RegExp(idPattern('clk')));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const stored = (await c.query<{ id: string }>('SELECT id::text FROM clicks ORDER BY id DESC')).rows.map((r) => r.id);
    await c.end();
    expect(pageIds.map((id) => idToUuid('clk', id))).toEqual(stored);
    expect(stored).toContain(ids.clickUuid);
    const nd = await fetch(`${base}/v1/links/${ids.link}/clicks?format=ndjson`, { headers: { authorization: `Bearer ${KEY}` } });
    const ndIds = (await nd.text()).trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id);
    expect(ndIds).toEqual([...pageIds].reverse());
    const csv = await fetch(`${base}/v1/links/${ids.link}/clicks?format=csv`, { headers: { authorization: `Bearer ${KEY}` } });
    const csvIds = (await csv.text()).trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(csvIds).toEqual([...pageIds].reverse());
  });

  it('every webhook and callback payload, and its headers, carries ids of the documented form', () => {
    const hooks = receiver.requests;
    expect(hooks.length).toBeGreaterThan(5);
    for (const r of hooks) {
      const body = JSON.parse(r.body.toString()) as { id: string; type: string };
      expectIds(`${r.path} ${body.type}`, body);
      expect(body.id).toMatch(new RegExp(idPattern('evt')));
      expect(r.headers['webhook-id']).toBe(body.id);
      expect(r.headers['event-id']).toBe(body.id);
      if (r.path === '/hook') {
        expect(r.headers['delivery-id']).toMatch(new RegExp(idPattern('whd')));
        for (const sig of String(r.headers['x-signature']).split(/,(?=t=)/)) expect(sig).toMatch(/^t=\d+,k=whk_[0-7][0-9A-HJKMNP-TV-Z]{25},h=sha256,s=[0-9a-f]{64}$/);
      } else {
        expect(String(r.headers['x-signature'])).toMatch(new RegExp(`^t=\\d+,k=${ids.job},`));
      }
    }
    const types = new Set(hooks.map((r) => (JSON.parse(r.body.toString()) as { type: string }).type));
    for (const t of ['link.created', 'link.updated', 'click.created', 'rule.variant_chosen', 'webhook.ping']) expect(types).toContain(t);
  });

  it('a path or query id of any other form is 400 invalid_id naming the field; the right form of an unknown id is 404', async () => {
    const doc = (await api('GET', '/v1/openapi.json')).json as { paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: { pattern?: string } }[] }>> };
    let checked = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const param = op.parameters?.find((p) => p.in === 'path' && p.name === 'id');
        if (!param) continue;
        const good = ids[{ ln: 'link', dom: 'domain', key: 'key', job: 'job', whe: 'endpoint', whd: 'delivery' }[param.schema.pattern!.slice(1, param.schema.pattern!.indexOf('_')) as string] ?? ''];
        const samples = ['not-an-id', '0193a0c4-6f00-7000-8000-000000000001', 'ln_01jegc8vr0e008000000000001', 'ln_81JEGC8VR0E008000000000001', 'ln_01JEGC8VR0E00800000000000U'];
        if (good) samples.push(good.toLowerCase(), `${good}0`, good.replace(/^[a-z]+_/, 'xx_'));
        for (const bad of samples) {
          const body = method === 'get' || method === 'delete' ? undefined : {};
          const r = await api(method.toUpperCase(), path.replace('{id}', encodeURIComponent(bad)), body);
          expect(r.status, `${method} ${path} ${bad}: ${r.text}`).toBe(400);
          expect(r.json, `${method} ${path} ${bad}`).toMatchObject({ error: { code: 'invalid_id', details: { field: 'id', in: 'params' } } });
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    const q = await api('GET', '/v1/webhooks/deliveries?event_id=0193a0c4-6f00-7000-8000-000000000001');
    expect(q.json).toMatchObject({ error: { code: 'invalid_id', details: { field: 'event_id', in: 'querystring' } } });
    expect((await api('GET', '/v1/links/ln_01JEGC8VR0E008000000000001')).status).toBe(404);
    expect((await api('GET', '/v1/webhooks/deliveries?event_id=evt_01JEGC8VR0E008000000000001')).json.data).toEqual([]);
  });

  it('the OpenAPI document gives every id field the pattern of its prefix', async () => {
    const doc = (await api('GET', '/v1/openapi.json')).json;
    const missing: string[] = [];
    const walk = (s: unknown, path: string, parent: string) => {
      if (!s || typeof s !== 'object') return;
      if (Array.isArray(s)) return s.forEach((x, i) => walk(x, `${path}[${i}]`, parent));
      const o = s as Record<string, unknown>;
      const check = (name: string, schema: Record<string, unknown>, where: string) => {
        if (!(name === 'id' || name.endsWith('_id')) || NOT_RESOURCE_IDS.has(name) || NOT_RESOURCE_IDS.has(`${parent}.${name}`)) return;
        const variants = [schema, ...((schema.anyOf as Record<string, unknown>[] | undefined) ?? [])];
        const pattern = variants.map((v) => v.pattern as string | undefined).find(Boolean);
        if (!pattern || !pattern.includes('[0-7][0-9A-HJKMNP-TV-Z]{25}')) missing.push(`${where}: ${JSON.stringify(schema)}`);
        const prefix = FIELD_PREFIX[name];
        if (prefix && pattern !== idPattern(prefix)) missing.push(`${where}: ${pattern} is not ${idPattern(prefix)}`);
      };
      if (o.properties && typeof o.properties === 'object') for (const [k, v] of Object.entries(o.properties)) check(k, v as Record<string, unknown>, `${path}.${k}`);
      if (typeof o.name === 'string' && (o.in === 'path' || o.in === 'query') && o.schema) check(o.name, o.schema as Record<string, unknown>, `${path} ${o.in} ${o.name}`);
      for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`, STRUCTURAL.has(k) ? parent : k);
    };
    walk(doc, '', '');
    // the OAuth token endpoint's form field (RFC 6749 client_id, issue 16's route) has no pattern yet
    expect(missing.filter((m) => !m.startsWith('/paths//oauth/token/post/requestBody/content/application/x-www-form-urlencoded/schema.client_id:'))).toEqual([]);
  });
});
