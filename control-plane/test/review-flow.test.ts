/**
 * The review flow (issue 16) end to end, with a real redirect node: under `require_approval` a new
 * link is pending and the node answers 404 for it; a re-pointed link waits while the node keeps
 * serving its approved destination; a reviewer (not the key that made the change) approves —
 * then the node serves it — or rejects. A pending link is never served.
 */
import { request } from 'node:http';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsNames } from '../../shared/index.js';
import { TEST_NATS_URL, waitFor } from '../../shared/testing/index.js';
import { startTestNode, type TestNode } from '../../data-plane/test/harness.js';
import type { JobWorkers } from '../jobs/index.js';
import type { OutboxRelay } from '../outbox/relay.js';
import { createDomain, createHarness, type Harness } from './harness.js';
import { count, startWorkers, waitForJob } from './jobs-helpers.js';

const HOST = 'go.review.example.com';

let h: Harness;
let relay: OutboxRelay;
let node: TestNode;
let workers: JobWorkers;
let publisher: { id: string; secret: string };
let reviewer: { id: string; secret: string };

/** What the node answers for a path: status and Location. */
function onNode(path: string): Promise<[number, string | null]> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.port, path: `/${path}`, headers: { host: HOST } }, (res) => {
      res.resume();
      res.on('end', () => resolve([res.statusCode!, (res.headers.location as string | undefined) ?? null]));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Waits until every committed change is published and applied by the node. */
async function settled(): Promise<void> {
  await waitFor('outbox drained', async () => (await count(h, 'SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL')) === 0, 30_000, 20);
  const { nc } = await h.nats();
  const last = (await (await jetstreamManager(nc)).streams.info(natsNames(h.prefix).linksStream)).state.last_seq;
  await waitFor('node applied', async () => (await node.metric('linkplane_node_sync_applied_sequence')) >= last, 30_000, 20);
}

type LinkBody = { id: string; status: string; destination_url: string; version: number };
const as = (key: { secret: string }) => key.secret;

async function events(linkId: string): Promise<string[]> {
  const { rows } = await h.pool.query<{ type: string }>(`SELECT type FROM events WHERE data->>'id' = $1 ORDER BY occurred_at, type`, [linkId]);
  return rows.map((r) => r.type);
}

beforeAll(async () => {
  h = await createHarness('review_flow', { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '10000' });
  await createDomain(h, HOST);
  const domainId = (await h.pool.query<{ id: string }>('SELECT id FROM domains WHERE hostname = $1', [HOST])).rows[0]!.id;
  expect((await h.req({ method: 'PUT', url: `/v1/domains/${domainId}/policy`, payload: { require_approval: true } })).statusCode).toBe(200);
  publisher = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'author', role: 'publisher' } })).json();
  reviewer = (await h.req({ method: 'POST', url: '/v1/keys', payload: { name: 'reviewer', role: 'reviewer' } })).json();
  relay = await h.relay({ pollMs: 20 });
  relay.start();
  workers = startWorkers(h);
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix: h.prefix, env: { WORKERS: '1' } });
});
afterAll(async () => {
  await node?.destroy();
  await workers?.stop();
  await relay?.stop();
  await h?.close();
});

describe('review flow with a real node', () => {
  it('a new link waits (404 on the node) until a reviewer approves it; the author cannot approve it', async () => {
    const created = await h.req({ method: 'POST', url: '/v1/links', key: as(publisher), payload: { domain: HOST, path: 'launch', destination_url: 'https://example.org/launch', status: 'live' } });
    expect(created.statusCode, created.body).toBe(201);
    const link = created.json<LinkBody>();
    expect(link.status).toBe('pending');
    await settled();
    expect(await onNode('launch')).toEqual([404, null]);

    const queue = await h.req({ method: 'GET', url: '/v1/links?status=pending', key: as(reviewer) });
    expect(queue.json<{ data: LinkBody[] }>().data.map((l) => l.id)).toContain(link.id);
    // the author may not set it live itself, nor approve it
    const self = await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, key: as(publisher), payload: { status: 'live' } });
    expect(self.json<LinkBody>().status).toBe('pending');
    expect((await h.req({ method: 'POST', url: `/v1/links/${link.id}/approve`, key: as(publisher) })).json<{ error: { code: string } }>().error.code).toBe('insufficient_scope');
    await settled();
    expect(await onNode('launch')).toEqual([404, null]);

    const approved = await h.req({ method: 'POST', url: `/v1/links/${link.id}/approve`, key: as(reviewer) });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json<LinkBody>().status).toBe('live');
    await settled();
    expect(await onNode('launch')).toEqual([302, 'https://example.org/launch']);
    expect(await events(link.id)).toEqual(['link.created', 'link.updated', 'link.approved']);
    const again = await h.req({ method: 'POST', url: `/v1/links/${link.id}/approve`, key: as(reviewer) });
    expect(again.statusCode).toBe(409);
    expect(again.json<{ error: { code: string } }>().error.code).toBe('link_not_pending');
  });

  it('a re-pointed link keeps serving its approved destination until approval; a rejection restores it', async () => {
    const link = (await h.req({ method: 'POST', url: '/v1/links', key: as(publisher), payload: { domain: HOST, path: 'offer', destination_url: 'https://example.org/v1' } })).json<LinkBody>();
    await h.req({ method: 'POST', url: `/v1/links/${link.id}/approve`, key: as(reviewer) });

    // a change that does not re-point (tags) applies at once
    const tagged = await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, key: as(publisher), payload: { tags: ['spring'] } });
    expect(tagged.json<LinkBody>().status).toBe('live');

    const repointed = await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, key: as(publisher), payload: { destination_url: 'https://example.org/v2' } });
    expect(repointed.json<LinkBody>()).toMatchObject({ status: 'pending', destination_url: 'https://example.org/v2' });
    await settled();
    expect(await onNode('offer')).toEqual([302, 'https://example.org/v1']);

    const rejected = await h.req({ method: 'POST', url: `/v1/links/${link.id}/reject`, key: as(reviewer) });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(rejected.json<LinkBody>()).toMatchObject({ status: 'live', destination_url: 'https://example.org/v1' });
    await settled();
    expect(await onNode('offer')).toEqual([302, 'https://example.org/v1']);

    await h.req({ method: 'PATCH', url: `/v1/links/${link.id}`, key: as(publisher), payload: { destination_url: 'https://example.org/v3' } });
    await settled();
    expect(await onNode('offer')).toEqual([302, 'https://example.org/v1']);
    const approved = await h.req({ method: 'POST', url: `/v1/links/${link.id}/approve`, key: as(reviewer) });
    expect(approved.json<LinkBody>()).toMatchObject({ status: 'live', destination_url: 'https://example.org/v3' });
    await settled();
    expect(await onNode('offer')).toEqual([302, 'https://example.org/v3']);
    expect(await events(link.id)).toEqual(['link.created', 'link.approved', 'link.updated', 'link.updated', 'link.rejected', 'link.updated', 'link.approved']);
  });

  it('the key that made the change cannot decide on it (403 approver_is_requester); a rejected new link is deleted', async () => {
    const link = (await h.req({ method: 'POST', url: '/v1/links', payload: { domain: HOST, path: 'admins-own', destination_url: 'https://example.org/a' } })).json<LinkBody>();
    expect(link.status).toBe('pending');
    const own = await h.req({ method: 'POST', url: `/v1/links/${link.id}/approve` });
    expect(own.statusCode).toBe(403);
    expect(own.json<{ error: { code: string } }>().error.code).toBe('approver_is_requester');
    const rejected = await h.req({ method: 'POST', url: `/v1/links/${link.id}/reject`, key: as(reviewer) });
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect((await h.req({ method: 'GET', url: `/v1/links/${link.id}` })).statusCode).toBe(404);
    await settled();
    expect(await onNode('admins-own')).toEqual([404, null]);
    expect(await events(link.id)).toEqual(['link.created', 'link.rejected']);
  });

  it('links created by a bulk job wait for review too, and are not served', async () => {
    const job = await h.req({ method: 'POST', url: '/v1/links/bulk', key: as(publisher), payload: { operation: 'create', items: [{ domain: HOST, path: 'bulk-1', destination_url: 'https://example.org/b1' }] } });
    expect(job.statusCode, job.body).toBe(202);
    await waitForJob(h, job.json<{ job_id: string }>().job_id);
    const list = (await h.req({ method: 'GET', url: '/v1/links?status=pending&q=bulk-1' })).json<{ data: LinkBody[] }>().data;
    expect(list.map((l) => l.status)).toEqual(['pending']);
    await settled();
    expect(await onNode('bulk-1')).toEqual([404, null]);
    expect((await h.req({ method: 'POST', url: `/v1/links/${list[0]!.id}/approve`, key: as(reviewer) })).statusCode).toBe(200);
    await settled();
    expect(await onNode('bulk-1')).toEqual([302, 'https://example.org/b1']);
  });
});
