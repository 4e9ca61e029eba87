/**
 * Design §4: redirects keep working with Postgres, NATS and the control plane all down — and the
 * clicks of that time are not lost: the node spools them, and once everything is back they reach
 * Postgres exactly once. Everything here is private (a temporary Postgres cluster, a private
 * nats-server), since all of it is stopped.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sleep, startNatsServer, startTempCluster, testPrefix, waitFor, type NatsServer, type TempCluster,
} from '../../shared/testing/index.js';
import { request, startTestControlPlane, startTestNode, type TestControlPlane, type TestNode } from './harness.js';

const prefix = testPrefix('down');
const KEY = 'lp_all_down_admin_secret_0123456789abcdefgh';
const HOST = 'go.all-down.example.com';

let nats: NatsServer;
let pgc: TempCluster;
let cp: TestControlPlane;
let node: TestNode;

const api = (method: string, path: string, body?: unknown) => cp.call(method, path, body);
const get = async (path: string) => {
  const r = await request(node.port, { host: HOST, path, headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0' } });
  return { status: r.status, location: r.headers.location };
};

beforeAll(async () => {
  [nats, pgc] = await Promise.all([startNatsServer(), startTempCluster()]);
  cp = await startTestControlPlane({ databaseUrl: pgc.url, natsUrl: nats.url, prefix, key: KEY });
  node = await startTestNode({ natsUrl: nats.url, prefix, env: { WORKERS: '1' } });
}, 120_000);

afterAll(async () => {
  await node?.destroy();
  await cp?.stop();
  await nats?.destroy();
  await pgc?.destroy();
});

describe('Postgres, NATS and the control plane all down', () => {
  it('the node keeps redirecting (and answering 404/410) from its replica; the clicks of that time arrive once everything is back', async () => {
    expect((await api('POST', '/v1/domains', { hostname: HOST })).status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await api('POST', '/v1/links', { domain: HOST, path: `d${i}`, destination_url: `https://example.com/down/${i}`, disabled: i === 19 });
      expect(r.status).toBe(201);
      ids.push(String(r.json.id));
    }
    await waitFor('links served', async () => (await get('/d18')).status === 302 && (await get('/d19')).status === 410, 10_000, 20);

    await cp.kill();
    await pgc.stop('immediate');
    await nats.stop('SIGKILL');

    // a while later, with nothing behind it
    await sleep(1500);
    const sent = 400;
    for (let n = 0; n < sent; n++) {
      const i = n % 19;
      const r = await get(`/d${i}?n=${n}`);
      expect(r).toEqual({ status: 302, location: `https://example.com/down/${i}` });
    }
    expect((await get('/d19')).status).toBe(410);
    expect((await get('/nope')).status).toBe(404);
    expect((await fetch(node.url('/healthz'))).status).toBe(200);
    await waitFor('clicks spooled', async () => (await node.metric('linkplane_node_click_spool_clicks')) >= sent, 10_000, 100);
    expect(await node.metric('linkplane_node_nats_connected')).toBe(0);

    // everything back: the spooled clicks are shipped and stored, once each
    await pgc.start();
    await nats.start();
    await cp.restart();
    const pool = new pg.Pool({ connectionString: pgc.url, max: 1 });
    try {
      const count = async () => Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM clicks WHERE link_id = ANY($1)', [ids])).rows[0]!.n);
      // polling d18 before the outage made clicks too: those are left out of the exact count below
      await waitFor(`${sent} clicks stored`, async () => (await count()) >= sent, 60_000, 200);
      await sleep(1000);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM clicks WHERE link_id = ANY($1) AND destination LIKE '%/down/%'`, [ids]);
      const total = await count();
      expect(Number(rows[0]!.n)).toBe(total);
      const { rows: during } = await pool.query<{ n: string; distinct: string }>(
        `SELECT count(*) AS n, count(DISTINCT id) AS distinct FROM clicks WHERE link_id = ANY($1) AND path <> 'd18'`,
        [ids],
      );
      // every click of the outage (d0…d17 were only clicked then) is stored exactly once
      const expected = Array.from({ length: sent }, (_, n) => n % 19).filter((i) => i !== 18).length;
      expect(Number(during[0]!.n)).toBe(expected);
      expect(Number(during[0]!.distinct)).toBe(expected);
    } finally {
      await pool.end();
    }
  }, 180_000);
});
