/**
 * Bulk jobs write links through the one link writer (issue 16): every link a job creates or changes
 * leaves the webhook events the single path emits (link.created, link.updated, link.disabled,
 * link.deleted) and an audit row naming the job's key; a policy violation is a per-row error with
 * details.rule; a re-run or a resumed job repeats no event and no audit row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkKvKey } from '../../shared/index.js';
import type { JobWorkers } from '../jobs/index.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { count, results, startWorkers, waitForJob } from './jobs-helpers.js';

let h: Harness;
let workers: JobWorkers;
let domain: string;
let adminKeyId: string;

const submit = async (operation: string, items: Record<string, unknown>[]) => {
  const r = await h.req({ method: 'POST', url: '/v1/links/bulk', payload: { operation, items } });
  expect(r.statusCode, r.body).toBe(202);
  return waitForJob(h, r.json<{ job_id: string }>().job_id);
};

interface EventRow { type: string; link_id: string; dispatched: boolean; data: Record<string, unknown> }
const linkEvents = async (ids: string[]) =>
  (await h.pool.query<EventRow>(
    `SELECT type, data->>'id' AS link_id, dispatched_at IS NOT NULL AS dispatched, data FROM events WHERE data->>'id' = ANY($1::text[]) ORDER BY id`,
    [ids],
  )).rows;

beforeAll(async () => {
  h = await createHarness('jobs_events_audit');
  domain = await createDomain(h, 'go.events.example.com');
  adminKeyId = (await h.pool.query<{ id: string }>(`SELECT id FROM api_keys WHERE name = 'bootstrap admin'`)).rows[0]!.id;
  // an endpoint subscribed to link.created only
  const ep = await h.req({ method: 'POST', url: '/v1/webhooks/endpoints', payload: { url: 'https://hooks.example.com/lp', events: ['link.created'] } });
  expect(ep.statusCode, ep.body).toBe(201);
  workers = startWorkers(h);
});
afterAll(async () => {
  await workers?.stop();
  await h?.close();
});

describe('bulk jobs through the link writer', () => {
  it('a created link has its link.created event (with the resource) and a link.create audit row by the job\'s key', async () => {
    const items = [1, 2, 3].map((i) => ({ domain, path: `ev-${i}`, destination_url: `https://shop.example.com/p/${i}` }));
    const job = await submit('create', items);
    expect(job).toMatchObject({ status: 'succeeded', counts: { succeeded: 3 } });
    const ids = (await results(h, job.id)).map((l) => String(l.link_id));

    const events = await linkEvents(ids);
    expect(events.map((e) => e.type)).toEqual(['link.created', 'link.created', 'link.created']);
    expect(events.map((e) => e.link_id).sort()).toEqual([...ids].sort());
    // the payload is the link resource, as GET /v1/links/{id} answers it
    const link = (await h.req({ method: 'GET', url: `/v1/links/${ids[0]}` })).json<Record<string, unknown>>();
    expect(events.find((e) => e.link_id === ids[0])!.data).toEqual(link);
    // an endpoint subscribes to link.created: the events wait for the fan-out
    expect(events.every((e) => !e.dispatched)).toBe(true);

    const audit = await h.req({ method: 'GET', url: `/v1/audit?resource_type=link&action=link.create&limit=100` });
    expect(audit.statusCode, audit.body).toBe(200);
    const entries = audit.json<{ data: { resource: { id: string }; actor: { type: string; id: string; name: string }; changes: Record<string, unknown> }[] }>().data
      .filter((e) => ids.includes(e.resource.id));
    expect(entries).toHaveLength(3);
    for (const e of entries) {
      expect(e.actor).toMatchObject({ type: 'api_key', id: adminKeyId, name: 'bootstrap admin' });
      expect(e.changes).toMatchObject({ domain, job_id: job.id });
    }
  });

  it('updates and disables: link.updated (+ link.disabled) and link.update audit rows; types nobody subscribes to are stored dispatched', async () => {
    const created = await submit('create', [{ domain, path: 'up-1', destination_url: 'https://shop.example.com/u/1' }, { domain, path: 'up-2', destination_url: 'https://shop.example.com/u/2' }]);
    const ids = (await results(h, created.id)).map((l) => String(l.link_id));
    const job = await submit('upsert', [
      { domain, path: 'up-1', destination_url: 'https://shop.example.com/u/1?v=2' },
      { domain, path: 'up-2', destination_url: 'https://shop.example.com/u/2', disabled: true },
    ]);
    expect(job).toMatchObject({ status: 'succeeded', counts: { succeeded: 2 } });
    const events = (await linkEvents(ids)).filter((e) => e.type !== 'link.created');
    // (events of one batch share a millisecond: their order by id is not the write order)
    expect(events.map((e) => `${e.link_id} ${e.type}`).sort()).toEqual([`${ids[0]} link.updated`, `${ids[1]} link.disabled`, `${ids[1]} link.updated`].sort());
    expect(events.every((e) => e.dispatched)).toBe(true);
    expect(events.find((e) => e.link_id === ids[0])!.data).toMatchObject({ destination_url: 'https://shop.example.com/u/1?v=2', version: 2 });

    const audit = await h.pool.query<{ resource_id: string; actor_key_id: string; changes: { changed: string[]; job_id: string } }>(
      `SELECT resource_id, actor_key_id, changes FROM audit_log WHERE action = 'link.update' AND resource_id = ANY($1::text[]) ORDER BY resource_id`, [ids],
    );
    expect(audit.rows.map((r) => [r.resource_id, r.actor_key_id, r.changes.changed, r.changes.job_id]))
      .toEqual([[ids[0], adminKeyId, ['destination_url'], job.id], [ids[1], adminKeyId, ['disabled'], job.id]].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  });

  it('the same job again changes nothing: no event, no audit row', async () => {
    const items = [1, 2, 3].map((i) => ({ domain, path: `again-${i}`, destination_url: `https://shop.example.com/a/${i}` }));
    await submit('upsert', items);
    const before = { events: await count(h, `SELECT count(*) AS n FROM events WHERE type LIKE 'link.%'`), audit: await count(h, `SELECT count(*) AS n FROM audit_log WHERE resource_type = 'link'`) };
    const again = await submit('upsert', items);
    expect((await results(h, again.id)).map((l) => l.status)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(await count(h, `SELECT count(*) AS n FROM events WHERE type LIKE 'link.%'`)).toBe(before.events);
    expect(await count(h, `SELECT count(*) AS n FROM audit_log WHERE resource_type = 'link'`)).toBe(before.audit);
  });

  it('a policy violation is a per-row error naming details.rule; the violating link leaves no event and no audit row', async () => {
    const host = await createDomain(h, 'go.strict.example.com');
    const domainId = (await h.pool.query<{ id: string }>('SELECT id FROM domains WHERE hostname = $1', [host])).rows[0]!.id;
    const p = await h.req({ method: 'PUT', url: `/v1/domains/${domainId}/policy`, payload: { https_only: true } });
    expect(p.statusCode, p.body).toBe(200);
    const job = await submit('create', [
      { domain: host, path: 'ok', destination_url: 'https://example.org/ok' },
      { domain: host, path: 'plain', destination_url: 'http://example.org/plain' },
    ]);
    expect(job).toMatchObject({ status: 'partially_succeeded', counts: { succeeded: 1, failed: 1 } });
    const errs = (await h.req({ method: 'GET', url: `/v1/jobs/${job.id}/errors` })).json<{ data: Record<string, unknown>[] }>();
    expect(errs.data).toEqual([expect.objectContaining({ index: 1, code: 'policy_violation', field: 'destination_url', details: expect.objectContaining({ rule: 'https_only', field: 'destination_url' }) })]);
    const lines = await results(h, job.id);
    expect(lines[1]).toMatchObject({ status: 'failed', error: { code: 'policy_violation', details: { rule: 'https_only' } } });
    expect(await count(h, `SELECT count(*) AS n FROM links WHERE domain = $1`, [host])).toBe(1);
    expect(await count(h, `SELECT count(*) AS n FROM events WHERE type = 'link.created' AND data->>'domain' = $1`, [host])).toBe(1);
    expect(await count(h, `SELECT count(*) AS n FROM audit_log WHERE action = 'link.create' AND changes->>'domain' = $1`, [host])).toBe(1);
  });

  it('awkward values (quotes, backslashes, tabs, newlines, unicode in tags, metadata and UTM; routing; expires_at) are stored as given, and the event carries the resource as GET answers it', async () => {
    const meta = { note: 'tab\there\nline "q" back\\slash', nested: { z: 1, a: [true, null, 2.5] }, emoji: 'é😀' };
    const item = {
      domain, path: 'odd/pä-th', destination_url: 'https://shop.example.com/odd?x=1', external_id: 'odd-ext\\1',
      tags: ['a,b', 'quo"te', 'back\\slash', 'tab\tt', '{brace}', 'NULL'], metadata: meta,
      utm: { source: 'news\\letter', campaign: 'sp "26"' }, expires_at: '2031-02-03T04:05:06.789123Z', redirect_status: 307, forward_query: true,
      routing: { rules: [{ when: { country: ['DE'] }, url: 'https://shop.example.com/de' }] },
    };
    const job = await submit('upsert', [item]);
    expect(job, JSON.stringify(await results(h, job.id))).toMatchObject({ status: 'succeeded', counts: { succeeded: 1 } });
    const id = String((await results(h, job.id))[0]!.link_id);
    const link = (await h.req({ method: 'GET', url: `/v1/links/${id}` })).json<Record<string, unknown>>();
    expect(link).toMatchObject({ path: 'odd/pä-th', tags: item.tags, metadata: meta, external_id: 'odd-ext\\1', redirect_status: 307, forward_query: true, routing: item.routing });
    expect(link.utm).toMatchObject(item.utm);
    expect(link.expires_at).toBe('2031-02-03T04:05:06.789Z');
    const events = await linkEvents([id]);
    expect(events.map((e) => e.type)).toEqual(['link.created']);
    expect(events[0]!.data).toEqual(link);

    // the same metadata in another key order is no change; a new destination is
    const again = await submit('upsert', [{ ...item, metadata: { emoji: meta.emoji, nested: { a: meta.nested.a, z: 1 }, note: meta.note }, destination_url: 'https://shop.example.com/odd?x=2' }]);
    expect((await results(h, again.id))[0]).toMatchObject({ status: 'updated' });
    const audit = await h.pool.query<{ changes: { changed: string[] } }>(`SELECT changes FROM audit_log WHERE action = 'link.update' AND resource_id = $1`, [id]);
    expect(audit.rows.map((r) => r.changes.changed)).toEqual([['destination_url']]);
    const updated = (await h.req({ method: 'GET', url: `/v1/links/${id}` })).json<Record<string, unknown>>();
    expect((await linkEvents([id])).find((e) => e.type === 'link.updated')!.data).toEqual(updated);
    expect(updated.version).toBe(2);
  });

  it('a batch of new links only (written by COPY) stores the events and audit rows a mixed batch (one statement) stores', async () => {
    // what a link's events and audit row hold, with its own id, path and job named rather than spelled
    const shape = async (id: string, jobId: string) => {
      const link = (await h.req({ method: 'GET', url: `/v1/links/${id}` })).json<Record<string, unknown>>();
      const ev = await h.pool.query(
        `SELECT e.workspace_id, e.type, e.occurred_at = l.updated_at AS at_update, e.dispatched_at IS NOT NULL AS dispatched,
                e.dispatched_at IS NULL OR e.dispatched_at = e.created_at AS dispatched_at_write, e.traceparent IS NOT DISTINCT FROM j.traceparent AS job_trace,
                e.data = $3::jsonb AS data_is_resource
         FROM events e JOIN links l ON l.id = e.data->>'id' JOIN jobs j ON j.id = $2
         WHERE e.data->>'id' = $1 ORDER BY e.type`, [id, jobId, JSON.stringify(link)]);
      const au = await h.pool.query(
        `SELECT a.workspace_id, a.actor_type, a.actor_key_id, a.actor_client_id, a.actor_name, a.action, a.resource_type,
                a.request_id IS NOT DISTINCT FROM j.created_by_request AS job_request, a.changes = jsonb_build_object('domain', l.domain, 'path', l.path, 'job_id', j.id) AS changes_named,
                a.at = e.created_at AS at_write
         FROM audit_log a JOIN links l ON l.id = a.resource_id JOIN jobs j ON j.id = $2 JOIN events e ON e.data->>'id' = l.id AND e.type = 'link.created'
         WHERE a.resource_id = $1`, [id, jobId]);
      const l = await h.pool.query(`SELECT workspace_id, created_by, version, deleted_at, created_at = updated_at AS fresh FROM links WHERE id = $1`, [id]);
      return { events: ev.rows, audit: au.rows, link: l.rows, resource: { ...link, id: '', path: '', short_url: '', destination_url: '', created_at: '', updated_at: '' } };
    };
    const fresh = await submit('create', [
      { domain, path: 'copy-1', destination_url: 'https://shop.example.com/c/1', tags: ['t'] },
      { domain, path: 'copy-2', destination_url: 'https://shop.example.com/c/2', tags: ['t'], disabled: true },
    ]);
    await submit('create', [{ domain, path: 'mixed-0', destination_url: 'https://shop.example.com/m/0' }]);
    const mixed = await submit('upsert', [
      { domain, path: 'mixed-0', destination_url: 'https://shop.example.com/m/0?v=2' },
      { domain, path: 'mixed-1', destination_url: 'https://shop.example.com/m/1', tags: ['t'] },
      { domain, path: 'mixed-2', destination_url: 'https://shop.example.com/m/2', tags: ['t'], disabled: true },
    ]);
    const a = (await results(h, fresh.id)).map((r) => String(r.link_id));
    const b = (await results(h, mixed.id)).map((r) => String(r.link_id));
    for (const [x, y] of [[a[0]!, b[1]!], [a[1]!, b[2]!]] as const) {
      const sx = await shape(x, fresh.id);
      expect(sx.events.length).toBeGreaterThan(0);
      expect(sx.audit).toHaveLength(1);
      expect(sx).toEqual(await shape(y, mixed.id));
    }
    // link.created has a subscriber (waits for the fan-out), link.disabled none (stored dispatched)
    expect((await shape(a[1]!, fresh.id)).events.map((e: Record<string, unknown>) => [e.type, e.dispatched])).toEqual([['link.created', false], ['link.disabled', true]]);
  });

  it('a link moved to another path by external_id: the old key is deleted before the new one is put, in one batch', async () => {
    await submit('create', [{ domain, path: 'move-from', external_id: 'mv-1', destination_url: 'https://shop.example.com/mv' }]);
    const seq0 = await count(h, 'SELECT coalesce(max(seq), 0) AS n FROM link_outbox');
    const job = await submit('update', [{ external_id: 'mv-1', domain, path: 'move-to' }]);
    expect(job).toMatchObject({ status: 'succeeded' });
    const ob = await h.pool.query<{ kv_key: string; op: string; has_payload: boolean }>(
      'SELECT kv_key, op, payload IS NOT NULL AS has_payload FROM link_outbox WHERE seq > $1 ORDER BY seq', [seq0]);
    expect(ob.rows.map((r) => [r.op, r.kv_key, r.has_payload]))
      .toEqual([['del', linkKvKey(domain, 'move-from'), false], ['put', linkKvKey(domain, 'move-to'), true]]);
    const audit = await h.pool.query<{ changes: { changed: string[] } }>(
      `SELECT a.changes FROM audit_log a JOIN links l ON l.id = a.resource_id WHERE l.external_id = 'mv-1' AND a.action = 'link.update'`);
    expect(audit.rows.map((r) => r.changes.changed)).toEqual([['path']]);
  });
});
