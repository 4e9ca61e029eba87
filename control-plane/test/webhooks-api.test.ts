import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_TYPES } from '../../shared/index.js';
import { createKey } from '../keys/key-store.js';
import { matchesFilter } from '../webhooks/event-filter.js';
import { fanOutBatch } from '../webhooks/fan-out.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { emit, newWorkspace } from './webhooks-helpers.js';
import { idToUuid } from '../ids.js';

const EP = '/v1/webhooks/endpoints';

describe('webhooks API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness('wh_api', { RATE_LIMIT_BURST: '100000' });
  });
  afterAll(async () => {
    await h.close();
  });

  async function create(payload: Record<string, unknown>, key?: string) {
    return h.req({ method: 'POST', url: EP, payload, key });
  }

  describe('endpoints', () => {
    it('creates an endpoint and shows its secret exactly once', async () => {
      const r = await create({ url: 'https://hooks.example.com/in', events: ['link.*', 'click.created'], description: 'crm sync', metadata: { team: 'growth' } });
      expect(r.statusCode).toBe(201);
      const e = r.json();
      expect(e.id).toMatch(/^whe_[0-9A-Z]{26}$/);
      expect(r.headers.location).toBe(`${EP}/${e.id}`);
      expect(e.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(e.secret_key_id).toMatch(/^whk_[0-9A-Z]{26}$/);
      expect(e).toMatchObject({
        url: 'https://hooks.example.com/in', events: ['link.*', 'click.created'], description: 'crm sync', enabled: true,
        disabled_reason: null, disabled_at: null, max_concurrency: null, failing_since: null, metadata: { team: 'growth' },
      });
      expect(e.secrets).toEqual([{ key_id: e.secret_key_id, created_at: expect.any(String), expires_at: null }]);

      const got = await h.req({ method: 'GET', url: `${EP}/${e.id}` });
      expect(got.statusCode).toBe(200);
      expect(got.json().secret).toBeUndefined();
      expect(got.body).not.toContain(e.secret);
      const list = await h.req({ method: 'GET', url: EP });
      expect(list.body).not.toContain(e.secret);
      expect(list.json().data.map((x: { id: string }) => x.id)).toContain(e.id);
    });

    it('defaults the filter to every event', async () => {
      const r = await create({ url: 'https://hooks.example.com/all' });
      expect(r.json().events).toEqual(['*']);
    });

    const badInput: { name: string; payload: Record<string, unknown>; status: number; code: string; field: string; reason?: string }[] = [
      { name: 'unknown field', payload: { url: 'https://a.example.com/', colour: 'red' }, status: 400, code: 'validation_failed', field: 'colour' },
      { name: 'missing url', payload: { events: ['*'] }, status: 400, code: 'validation_failed', field: 'url' },
      { name: 'empty filter', payload: { url: 'https://a.example.com/', events: [] }, status: 400, code: 'validation_failed', field: 'events' },
      { name: 'unknown event type', payload: { url: 'https://a.example.com/', events: ['link.created', 'link.exploded'] }, status: 422, code: 'invalid_event_filter', field: 'events[1]' },
      { name: 'wildcard of nothing', payload: { url: 'https://a.example.com/', events: ['nope.*'] }, status: 422, code: 'invalid_event_filter', field: 'events[0]' },
      { name: 'ping is not subscribable', payload: { url: 'https://a.example.com/', events: ['webhook.ping'] }, status: 422, code: 'invalid_event_filter', field: 'events[0]' },
      { name: 'http (https only)', payload: { url: 'http://hooks.example.com/' }, status: 422, code: 'invalid_url', field: 'url', reason: 'scheme_not_allowed' },
      { name: 'javascript: URL', payload: { url: 'javascript:alert(1)' }, status: 422, code: 'invalid_url', field: 'url', reason: 'scheme_not_allowed' },
      { name: 'credentials in URL', payload: { url: 'https://u:p@hooks.example.com/' }, status: 422, code: 'invalid_url', field: 'url', reason: 'credentials_not_allowed' },
      { name: 'not a URL', payload: { url: 'hooks' }, status: 422, code: 'invalid_url', field: 'url', reason: 'invalid_url' },
      { name: 'concurrency 0', payload: { url: 'https://a.example.com/', max_concurrency: 0 }, status: 400, code: 'validation_failed', field: 'max_concurrency' },
    ];
    badInput.forEach((c) => {
      it(`rejects ${c.name}: ${c.status} ${c.code} on ${c.field}`, async () => {
        const r = await create(c.payload);
        expect(r.statusCode).toBe(c.status);
        expect(r.json().error.code).toBe(c.code);
        expect(r.json().error.details.field).toBe(c.field);
        if (c.reason) expect(r.json().error.details.reason).toBe(c.reason);
      });
    });

    const ssrf = [
      'https://127.0.0.1/hook', 'https://2130706433/hook', 'https://0x7f.0.0.1/hook', 'https://0177.0.0.1/hook', 'https://127.1/hook',
      'https://[::1]/hook', 'https://[::ffff:127.0.0.1]/hook', 'https://[::ffff:7f00:1]/hook', 'https://169.254.169.254/latest/meta-data/',
      'https://10.0.0.7/hook', 'https://192.168.1.1/hook', 'https://172.16.0.1/hook', 'https://100.64.0.1/hook', 'https://0.0.0.0/hook',
      'https://[fd00::1]/hook', 'https://[fe80::1]/hook', 'https://localhost/hook', 'https://LOCALHOST./hook', 'https://metadata.google.internal/computeMetadata/v1/',
    ];
    ssrf.forEach((url) => {
      it(`refuses a private destination: ${url}`, async () => {
        const r = await create({ url });
        expect(r.statusCode).toBe(422);
        expect(r.json().error).toMatchObject({ code: 'invalid_url', details: { field: 'url', reason: 'private_address' } });
      });
    });

    it('updates the filter, disables and re-enables', async () => {
      const e = (await create({ url: 'https://hooks.example.com/p' })).json();
      const p1 = await h.req({ method: 'PATCH', url: `${EP}/${e.id}`, payload: { events: ['job.*'], enabled: false, max_concurrency: 3 } });
      expect(p1.statusCode).toBe(200);
      expect(p1.json()).toMatchObject({ events: ['job.*'], enabled: false, disabled_reason: 'manual', max_concurrency: 3 });
      expect(p1.json().disabled_at).toEqual(expect.any(String));
      const p2 = await h.req({ method: 'PATCH', url: `${EP}/${e.id}`, payload: { enabled: true } });
      expect(p2.json()).toMatchObject({ enabled: true, disabled_reason: null, disabled_at: null });
      const bad = await h.req({ method: 'PATCH', url: `${EP}/${e.id}`, payload: { url: 'https://10.1.2.3/' } });
      expect(bad.statusCode).toBe(422);
      expect((await h.req({ method: 'GET', url: `${EP}/${e.id}` })).json().url).toBe('https://hooks.example.com/p');
      const empty = await h.req({ method: 'PATCH', url: `${EP}/${e.id}`, payload: {} });
      expect(empty.statusCode).toBe(400);
    });

    it('deletes an endpoint (then 404)', async () => {
      const e = (await create({ url: 'https://hooks.example.com/d' })).json();
      expect((await h.req({ method: 'DELETE', url: `${EP}/${e.id}` })).statusCode).toBe(200);
      const r = await h.req({ method: 'GET', url: `${EP}/${e.id}` });
      expect(r.statusCode).toBe(404);
      expect(r.json().error).toMatchObject({ code: 'webhook_endpoint_not_found', details: { id: e.id } });
      expect((await h.req({ method: 'DELETE', url: `${EP}/${e.id}` })).statusCode).toBe(404);
    });

    it('rotates secrets: the old one retires after the overlap window', async () => {
      const e = (await create({ url: 'https://hooks.example.com/r' })).json();
      const before = Date.now();
      const r = await h.req({ method: 'POST', url: `${EP}/${e.id}/secrets/rotate` });
      expect(r.statusCode).toBe(200);
      const rot = r.json();
      expect(rot.secret).toMatch(/^whsec_/);
      expect(rot.secret).not.toBe(e.secret);
      expect(rot.secrets.map((s: { key_id: string }) => s.key_id)).toEqual([rot.secret_key_id, e.secret_key_id]);
      const old = rot.secrets[1];
      const expires = Date.parse(old.expires_at);
      expect(expires - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
      expect(expires - before).toBeLessThanOrEqual(24 * 3600_000 + 60_000);
      expect(rot.secrets[0].expires_at).toBeNull();
      // rotating again with no overlap retires both older secrets at once
      const r2 = (await h.req({ method: 'POST', url: `${EP}/${e.id}/secrets/rotate`, payload: { overlap_hours: 0 } })).json();
      expect(r2.secrets.map((s: { key_id: string }) => s.key_id)).toEqual([r2.secret_key_id]);
    });

    it('pages endpoints with a cursor', async () => {
      const ws = await newWorkspace(h, 'paging');
      for (let i = 0; i < 3; i++) expect((await create({ url: `https://hooks.example.com/${i}` }, ws.key)).statusCode).toBe(201);
      const p1 = (await h.req({ method: 'GET', url: `${EP}?limit=2`, key: ws.key })).json();
      expect(p1.data.map((e: { url: string }) => e.url)).toEqual(['https://hooks.example.com/2', 'https://hooks.example.com/1']);
      const p2 = (await h.req({ method: 'GET', url: `${EP}?limit=2&cursor=${p1.next_cursor}`, key: ws.key })).json();
      expect(p2.data.map((e: { url: string }) => e.url)).toEqual(['https://hooks.example.com/0']);
      expect(p2.next_cursor).toBeNull();
      expect((await h.req({ method: 'GET', url: `${EP}?cursor=garbage` })).json().error.code).toBe('invalid_cursor');
    });

    it('an Idempotency-Key replays the same answer (the secret redacted, issue 12) and creates one endpoint', async () => {
      const ws = await newWorkspace(h, 'idem');
      const send = () => h.req({ method: 'POST', url: EP, key: ws.key, headers: { 'idempotency-key': 'create-hook-1' }, payload: { url: 'https://hooks.example.com/idem' } });
      const a = await send();
      const b = await send();
      expect(a.statusCode).toBe(201);
      expect(b.statusCode).toBe(201);
      expect(b.headers['idempotent-replayed']).toBe('true');
      expect(b.json()).toEqual({ ...a.json(), secret: null, redacted: ['secret'] });
      const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM webhook_endpoints WHERE workspace_id = $1', [ws.workspaceId]);
      expect(rows[0].n).toBe(1);
    });
  });

  describe('scopes', () => {
    it('webhooks:write to change, webhooks:read to look; domain-limited keys may not', async () => {
      const { rows } = await h.pool.query<{ id: string }>(`SELECT id FROM workspaces WHERE name = 'default'`);
      const ws = rows[0]!.id;
      const readOnly = (await createKey(h.pool, { workspaceId: ws, name: 'ro', role: 'read-only' })).secret;
      const analyst = (await createKey(h.pool, { workspaceId: ws, name: 'an', role: 'analyst' })).secret;
      const limited = (await createKey(h.pool, { workspaceId: ws, name: 'lim', role: 'publisher', domains: ['go.example.com'] })).secret;
      const w = await create({ url: 'https://hooks.example.com/s' }, readOnly);
      expect(w.statusCode).toBe(403);
      expect(w.json().error).toMatchObject({ code: 'insufficient_scope', details: { required: 'webhooks:write' } });
      expect((await h.req({ method: 'GET', url: EP, key: readOnly })).statusCode).toBe(200);
      expect((await h.req({ method: 'GET', url: '/v1/webhooks/deliveries', key: readOnly })).statusCode).toBe(200);
      const a = await h.req({ method: 'GET', url: EP, key: analyst });
      expect(a.statusCode).toBe(403);
      expect(a.json().error.details.required).toBe('webhooks:read');
      const l = await create({ url: 'https://hooks.example.com/s' }, limited);
      expect(l.statusCode).toBe(403);
      expect(l.json().error).toMatchObject({ code: 'domain_not_allowed', details: { reason: 'domain_limited_key' } });
      expect((await h.req({ method: 'GET', url: '/v1/webhooks/deliveries', key: limited })).statusCode).toBe(403);
      expect((await h.req({ method: 'GET', url: EP, key: null })).statusCode).toBe(401);
    });
  });

  describe('fan-out, deliveries, replay', () => {
    it('the SQL filter match agrees with matchesFilter for every catalog type', async () => {
      const filters = [['*'], ['link.*'], ['link.created'], ['qr.*'], ['qr.scan.*'], ['click.*', 'job.failed'], ['webhook.*'], ['job.*']];
      for (const f of filters) {
        const { rows } = await h.pool.query<{ type: string; m: boolean }>(
          'SELECT t AS type, webhook_filter_matches($1::text[], t) AS m FROM unnest($2::text[]) t',
          [f, [...WEBHOOK_EVENT_TYPES]],
        );
        for (const r of rows) expect([f, r.type, r.m]).toEqual([f, r.type, matchesFilter(f, r.type)]);
      }
      expect(matchesFilter(['qr.*'], 'qr.scan.created')).toBe(true);
      expect(matchesFilter(['link.*'], 'linkx.created')).toBe(false);
    });

    it('turns each event into one delivery per matching enabled endpoint, marking events dispatched', async () => {
      const ws = await newWorkspace(h, 'fan');
      const other = await newWorkspace(h, 'fan-other');
      const mk = async (payload: Record<string, unknown>, key = ws.key) => (await create(payload, key)).json().id as string;
      const all = await mk({ url: 'https://hooks.example.com/all' });
      const links = await mk({ url: 'https://hooks.example.com/links', events: ['link.*'] });
      const clicks = await mk({ url: 'https://hooks.example.com/clicks', events: ['click.created'] });
      const off = await mk({ url: 'https://hooks.example.com/off', enabled: false });
      const foreign = await mk({ url: 'https://hooks.example.com/foreign' }, other.key);
      const clickIds = await emit(h, ws.workspaceId, 3, 'click.created');
      const domain = await createDomain(h);
      await h.pool.query('UPDATE domains SET workspace_id = $1 WHERE hostname = $2', [ws.workspaceId, domain]);
      const link = await h.req({ method: 'POST', url: '/v1/links', key: ws.key, payload: { domain, path: 'fan', destination_url: 'https://example.org/' } });
      expect(link.statusCode).toBe(201);
      let total = 0;
      for (;;) {
        const r = await fanOutBatch(h.pool, 1000);
        total += r.deliveries;
        if (r.events === 0) break;
      }
      expect(total).toBeGreaterThanOrEqual(3 + 3 + 1 + 1);
      const { rows } = await h.pool.query<{ endpoint_id: string; event_type: string; n: number }>(
        `SELECT endpoint_id, event_type, count(*)::int AS n FROM webhook_deliveries WHERE workspace_id = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
        [ws.workspaceId],
      );
      const got = Object.fromEntries(rows.map((r) => [`${r.endpoint_id === all ? 'all' : r.endpoint_id === links ? 'links' : r.endpoint_id === clicks ? 'clicks' : r.endpoint_id}:${r.event_type}`, r.n]));
      expect(got).toEqual({ 'all:click.created': 3, 'all:link.created': 1, 'links:link.created': 1, 'clicks:click.created': 3 });
      expect((await h.pool.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = ANY($1)', [[off, foreign]])).rowCount).toBe(0);
      const undispatched = await h.pool.query('SELECT 1 FROM events WHERE id = ANY($1::uuid[]) AND dispatched_at IS NULL', [clickIds.map((id) => idToUuid('evt', id))]);
      expect(undispatched.rowCount).toBe(0);

      // list with filters, each delivery with its (not yet made) attempts
      const list = await h.req({ method: 'GET', url: `/v1/webhooks/deliveries?endpoint_id=${clicks}&status=pending&limit=2`, key: ws.key });
      expect(list.statusCode).toBe(200);
      const page = list.json();
      expect(page.data).toHaveLength(2);
      expect(page.data[0]).toMatchObject({ endpoint_id: clicks, event_type: 'click.created', status: 'pending', in_flight: false, attempt_count: 0, attempts: [], last_error: null });
      const page2 = (await h.req({ method: 'GET', url: `/v1/webhooks/deliveries?endpoint_id=${clicks}&limit=2&cursor=${page.next_cursor}`, key: ws.key })).json();
      expect(page2.data).toHaveLength(1);
      expect(page2.next_cursor).toBeNull();
      const byType = (await h.req({ method: 'GET', url: '/v1/webhooks/deliveries?event_type=link.created', key: ws.key })).json();
      expect(byType.data.map((d: { endpoint_id: string }) => d.endpoint_id).sort()).toEqual([all, links].sort());
      const none = (await h.req({ method: 'GET', url: '/v1/webhooks/deliveries?status=dead', key: ws.key })).json();
      expect(none.data).toEqual([]);
      const future = (await h.req({ method: 'GET', url: '/v1/webhooks/deliveries?from=2999-01-01', key: ws.key })).json();
      expect(future.data).toEqual([]);
      const badRange = await h.req({ method: 'GET', url: '/v1/webhooks/deliveries?from=2026-02-01&to=2026-01-01', key: ws.key });
      expect(badRange.statusCode).toBe(400);
      expect(badRange.json().error.details).toMatchObject({ field: 'to', reason: 'before_from' });
      expect((await h.req({ method: 'GET', url: '/v1/webhooks/deliveries?status=lost', key: ws.key })).json().error.details.field).toBe('status');

      // one delivery carries its event: link events carry the link as the API returns it
      const linkDelivery = byType.data.find((d: { endpoint_id: string }) => d.endpoint_id === links);
      const one = (await h.req({ method: 'GET', url: `/v1/webhooks/deliveries/${linkDelivery.id}`, key: ws.key })).json();
      expect(one.event).toMatchObject({ type: 'link.created', data: link.json() });
      const other404 = await h.req({ method: 'GET', url: `/v1/webhooks/deliveries/${linkDelivery.id}`, key: other.key });
      expect(other404.statusCode).toBe(404);
      expect(other404.json().error.code).toBe('webhook_delivery_not_found');
    });

    it('replays: a delivery, a range by status, missed events; not while disabled or in flight', async () => {
      const ws = await newWorkspace(h, 'replay');
      await emit(h, ws.workspaceId, 2, 'job.succeeded');
      while ((await fanOutBatch(h.pool, 1000)).events > 0);
      // created after the events: it has no deliveries until it asks for what it missed
      const e = (await create({ url: 'https://hooks.example.com/late', events: ['job.*'] }, ws.key)).json();
      const missed = await h.req({ method: 'POST', url: `${EP}/${e.id}/replay`, key: ws.key, payload: { status: 'missing' } });
      expect(missed.statusCode).toBe(202);
      expect(missed.json()).toEqual({ replayed: 0, created: 2, more: false });
      const again = await h.req({ method: 'POST', url: `${EP}/${e.id}/replay`, key: ws.key, payload: { status: 'missing' } });
      expect(again.json()).toEqual({ replayed: 0, created: 0, more: false });

      const { rows } = await h.pool.query<{ id: string }>('SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id', [e.id]);
      const [d1, d2] = rows.map((r) => r.id);
      await h.pool.query(`UPDATE webhook_deliveries SET status = 'dead', dead_at = now(), attempts = 5, cycle_attempts = 5 WHERE endpoint_id = $1`, [e.id]);
      const one = await h.req({ method: 'POST', url: `/v1/webhooks/deliveries/${d1}/replay`, key: ws.key });
      expect(one.statusCode).toBe(202);
      expect(one.json()).toMatchObject({ id: d1, status: 'pending', attempt_count: 5, dead_at: null, in_flight: false });
      const cyc = await h.pool.query('SELECT cycle_attempts FROM webhook_deliveries WHERE id = $1', [d1]);
      expect(cyc.rows[0].cycle_attempts).toBe(0);
      const range = await h.req({ method: 'POST', url: `${EP}/${e.id}/replay`, key: ws.key, payload: { status: ['dead'], from: '2000-01-01' } });
      expect(range.json()).toEqual({ replayed: 1, created: 0, more: false });
      const st = await h.pool.query('SELECT status FROM webhook_deliveries WHERE id = $1', [d2]);
      expect(st.rows[0].status).toBe('pending');

      // in flight (leased): 409
      await h.pool.query(`UPDATE webhook_deliveries SET lease_token = gen_random_uuid(), next_attempt_at = now() + interval '1 minute' WHERE id = $1`, [d1]);
      const busy = await h.req({ method: 'POST', url: `/v1/webhooks/deliveries/${d1}/replay`, key: ws.key });
      expect(busy.statusCode).toBe(409);
      expect(busy.json().error.code).toBe('webhook_delivery_in_flight');

      // disabled endpoint: 409 for replays and the test event
      await h.req({ method: 'PATCH', url: `${EP}/${e.id}`, key: ws.key, payload: { enabled: false } });
      for (const url of [`/v1/webhooks/deliveries/${d2}/replay`, `${EP}/${e.id}/replay`, `${EP}/${e.id}/test`]) {
        const r = await h.req({ method: 'POST', url, key: ws.key });
        expect([url, r.statusCode]).toEqual([url, 409]);
        expect(r.json().error).toMatchObject({ code: 'webhook_endpoint_disabled', details: { endpoint_id: e.id, disabled_reason: 'manual' } });
      }
      expect((await h.req({ method: 'POST', url: '/v1/webhooks/deliveries/whd_01HZZZZZZZZZZZZZZZZZZZZZZZ/replay', key: ws.key })).statusCode).toBe(404);
    });

    it('the test call queues a webhook.ping for that endpoint only', async () => {
      const ws = await newWorkspace(h, 'ping');
      const e = (await create({ url: 'https://hooks.example.com/ping' }, ws.key)).json();
      const other = (await create({ url: 'https://hooks.example.com/other' }, ws.key)).json();
      const r = await h.req({ method: 'POST', url: `${EP}/${e.id}/test`, key: ws.key });
      expect(r.statusCode).toBe(202);
      expect(r.json()).toMatchObject({ endpoint_id: e.id, event_type: 'webhook.ping', status: 'pending', attempt_count: 0 });
      expect(r.headers.location).toBe(`/v1/webhooks/deliveries/${r.json().id}`);
      while ((await fanOutBatch(h.pool, 1000)).events > 0);
      expect((await h.pool.query('SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1', [other.id])).rowCount).toBe(0);
      const ev = (await h.req({ method: 'GET', url: `/v1/webhooks/deliveries/${r.json().id}`, key: ws.key })).json().event;
      expect(ev).toMatchObject({ type: 'webhook.ping', data: { endpoint_id: e.id, url: 'https://hooks.example.com/ping' } });
    });
  });
});
