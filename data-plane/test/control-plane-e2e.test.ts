/**
 * End to end with the real control plane: API writes → Postgres + outbox → relay → KV bucket →
 * node → redirect. Measures API 201 → served latency, checks every kind of change propagates
 * within 1 s, and that a node killed -9 during 2 000 API updates resumes and ends identical to
 * Postgres.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanupNatsPrefix, createTestDatabase, sleep, TEST_NATS_URL, testPrefix, waitFor, waitForHttp, type TestDatabase,
} from '../../shared/testing/index.js';
import { request, startTestControlPlane, startTestNode, type TestControlPlane, type TestNode } from './harness.js';

const prefix = testPrefix('dpe2e');
const KEY = 'lp_e2e_admin_secret_for_data_plane_tests_01';
const HOST = 'go.e2e.example.com';
let db: TestDatabase;
let cp: TestControlPlane;
let node: TestNode;

const call = (method: string, path: string, body?: unknown) => cp.call(method, path, body);

async function served(path: string, status: number, location: string | undefined, host = HOST): Promise<number> {
  const t0 = performance.now();
  await waitFor(`${path} → ${status}`, async () => {
    const r = await request(node.port, { host, path });
    return r.status === status && (location === undefined || r.headers.location === location);
  }, 5000, 2);
  return performance.now() - t0;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

beforeAll(async () => {
  db = await createTestDatabase('dp_e2e');
  cp = await startTestControlPlane({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, key: KEY });
  expect((await call('POST', '/v1/domains', { hostname: HOST })).status).toBe(201);
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { TRUSTED_PROXIES: '127.0.0.1', WORKERS: '1' } });
}, 120_000);

afterAll(async () => {
  await node?.destroy();
  await cp?.stop();
  await db?.drop();
  await cleanupNatsPrefix(prefix);
});

describe('control plane → node', () => {
  it('API create → the node answers 302 with the right Location within 1 s (p50/p99 over 200 links)', async () => {
    const latencies: number[] = [];
    for (let i = 0; i < 200; i++) {
      const dest = `https://example.com/e2e/${i}`;
      const r = await call('POST', '/v1/links', { domain: HOST, path: `c${i}`, destination_url: dest });
      expect(r.status).toBe(201);
      latencies.push(await served(`/c${i}`, 302, dest));
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(`API 201 → served by the node: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms (n=${latencies.length})`);
    expect(p99).toBeLessThan(1000);
  });

  it('update, disable, expiry, delete and domain fallbacks propagate within 1 s', async () => {
    const created = await call('POST', '/v1/links', { domain: HOST, path: 'edit', destination_url: 'https://example.com/v1', redirect_status: 301 });
    const id = created.json.id as string;
    expect(await served('/edit', 301, 'https://example.com/v1')).toBeLessThan(1000);
    expect((await call('PATCH', `/v1/links/${id}`, { destination_url: 'https://example.com/v2', redirect_status: 307 })).status).toBe(200);
    expect(await served('/edit', 307, 'https://example.com/v2')).toBeLessThan(1000);
    expect((await call('PATCH', `/v1/links/${id}`, { disabled: true })).status).toBe(200);
    expect(await served('/edit', 410, undefined)).toBeLessThan(1000);
    const expiresAt = new Date(Date.now() + 2000).toISOString();
    expect((await call('PATCH', `/v1/links/${id}`, { disabled: false, expires_at: expiresAt })).status).toBe(200);
    expect(await served('/edit', 307, 'https://example.com/v2')).toBeLessThan(1000);
    await served('/edit', 410, undefined); // the node's clock passes expires_at: no message needed
    expect((await call('PATCH', `/v1/links/${id}`, { expires_at: null, utm: { source: 'e2e' } })).status).toBe(200);
    expect(await served('/edit', 307, 'https://example.com/v2?utm_source=e2e')).toBeLessThan(1000);
    expect((await call('DELETE', `/v1/links/${id}`)).status).toBe(200);
    expect(await served('/edit', 404, undefined)).toBeLessThan(1000);

    const domains = await call('GET', '/v1/domains');
    const dom = (domains.json.data as { id: string; hostname: string }[]).find((d) => d.hostname === HOST)!;
    expect((await call('PATCH', `/v1/domains/${dom.id}`, { not_found_url: 'https://example.com/missing' })).status).toBe(200);
    expect(await served('/nothing-here', 404, 'https://example.com/missing')).toBeLessThan(1000);
  });

  it('UTM merge: the destination\'s query reaches the visitor byte for byte, the template never overwrites its keys (issue 15)', async () => {
    const host = 'utm.e2e.example.com';
    expect((await call('POST', '/v1/domains', { hostname: host, utm_template: { source: 'brand', medium: 'email' } })).status).toBe(201);
    const dest = 'https://example.com/s?sig=a~b,c/d&q=a%20b&flag&utm_source=partner#top';
    const r = await call('POST', '/v1/links', { domain: host, path: 'signed', destination_url: dest, utm: { campaign: 'spring' }, forward_query: true });
    expect(r.status).toBe(201);
    const merged = 'https://example.com/s?sig=a~b,c/d&q=a%20b&flag&utm_source=partner&utm_medium=email&utm_campaign=spring';
    await served('/signed', 302, `${merged}#top`, host);
    const forwarded = await request(node.port, { host, path: '/signed?ref=x,y' });
    expect(forwarded.headers.location).toBe(`${merged}&ref=x,y#top`);
  });

  it('routing rules created through the API are evaluated by the node', async () => {
    const r = await call('POST', '/v1/links', {
      domain: HOST, path: 'geo', destination_url: 'https://example.com/world',
      routing: { geo: [{ country: 'GB', url: 'https://example.co.uk/' }], device: [{ os: 'iOS', url: 'https://apps.apple.com/app/1' }] },
    });
    expect(r.status).toBe(201);
    await served('/geo', 302, 'https://example.com/world');
    const gb = await request(node.port, { host: HOST, path: '/geo', headers: { 'x-forwarded-for': '81.2.69.142' } });
    expect(gb.headers.location).toBe('https://example.co.uk/');
    const ios = await request(node.port, { host: HOST, path: '/geo', headers: { 'x-forwarded-for': '8.8.8.8', 'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1' } });
    expect(ios.headers.location).toBe('https://apps.apple.com/app/1');
  });

  it('kill -9 during 2 000 API updates: the node resumes from its stored sequence and ends identical to Postgres', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = await call('POST', '/v1/links', { domain: HOST, path: `k${i}`, destination_url: `https://example.com/k/${i}/v0` });
      ids.push(r.json.id as string);
    }
    await served('/k99', 302, 'https://example.com/k/99/v0');
    const seqBefore = await node.metric('linkplane_node_sync_applied_sequence');
    let done = 0;
    const updates = (async () => {
      for (let round = 1; round <= 20; round++) {
        await Promise.all(ids.map(async (id, i) => {
          const r = await call('PATCH', `/v1/links/${id}`, { destination_url: `https://example.com/k/${i}/v${round}` });
          expect(r.status).toBe(200);
          done++;
        }));
      }
    })();
    await waitFor('a third of the updates', () => done >= 700, 60_000, 5);
    await node.kill();
    await updates;
    expect(done).toBe(2000);
    await node.restart();
    await waitForHttp(node.url('/readyz'), 200, 30_000);
    const resumed = node.proc.logs().find((l) => l.msg === 'resuming links sync from stored sequence');
    expect(resumed).toBeTruthy();
    // it had applied part of the updates before the kill, and went on from there
    expect(Number(resumed!.fromSeq)).toBeGreaterThan(seqBefore + 1);
    expect(node.proc.logs().some((l) => l.msg === 'replaying links bucket')).toBe(false);

    // identical to Postgres: every live link of the domain answers with its stored destination
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query<{ path: string; destination_url: string; disabled: boolean; utm: unknown }>(
      `SELECT path, destination_url, disabled, utm FROM links WHERE domain = $1 AND deleted_at IS NULL AND routing IS NULL`, [HOST]);
    await c.end();
    expect(rows.length).toBeGreaterThanOrEqual(100);
    await waitFor('node caught up with the relay', async () => {
      const r = await request(node.port, { host: HOST, path: '/k0' });
      return r.headers.location === 'https://example.com/k/0/v20';
    }, 10_000);
    await sleep(200);
    for (const row of rows) {
      const r = await request(node.port, { host: HOST, path: `/${row.path}` });
      if (row.disabled) expect(r.status, row.path).toBe(410);
      else if (row.utm === null) expect(r.headers.location, row.path).toBe(row.destination_url);
      else expect(String(r.headers.location).startsWith(row.destination_url), row.path).toBe(true);
    }
    expect((await request(node.port, { host: HOST, path: '/edit' })).status).toBe(404); // deleted in Postgres → gone
  });
});
