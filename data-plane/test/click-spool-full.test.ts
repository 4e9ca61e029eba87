/**
 * Click spool disk full (CLICK_DIR on a 1 MB tmpfs filled to the last byte): every redirect is
 * still answered; the batches the spool cannot write are held in memory (within
 * CLICK_BACKLOG_MAX_MB) and retried, nothing is counted as dropped, and the node says so
 * (metrics, /readyz detail, one log line per change). Once space is freed, every answered click
 * reaches JetStream, once.
 */
import { Agent, request as httpRequest } from 'node:http';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeClickBatch, natsNames } from '../../shared/index.js';
import { cleanupNatsPrefix, sleep, TEST_NATS_URL, testPrefix, waitFor } from '../../shared/testing/index.js';
import { DOMAIN, LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';
import { mountTmpfs } from './tmpfs.js';

const prefix = testPrefix('dpspool');
const tmpfs = mountTmpfs(1024);
const CLICKS = 3000;
let bucket: LinksBucket;
let nc: NatsConnection;
let node: TestNode | null = null;

beforeAll(async () => {
  if (!tmpfs) return;
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  await bucket.putLink(linkSource({ path: 'sp', destinationUrl: 'https://example.com/sp' }));
  nc = await connect({ servers: TEST_NATS_URL });
});

afterAll(async () => {
  await node?.destroy();
  tmpfs?.unmount();
  await nc?.close();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

const agent = new Agent({ keepAlive: true, maxSockets: 32 });
function get(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: node!.port, path, agent, headers: { host: DOMAIN.hostname, 'user-agent': 'spool-full-test' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every click event in the node's clicks stream: id → how many times stored. */
async function storedClicks(): Promise<Map<string, number>> {
  const names = natsNames(prefix);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(names.clicksStream);
  const ids = new Map<string, number>();
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(names.clicksStream, { seq });
    if (!m) continue;
    for (const e of decodeClickBatch(m.data).batch.events) ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
  }
  return ids;
}

const countLogs = (msg: string) => node!.proc.logs().filter((l) => l.msg === msg).length;

describe.skipIf(tmpfs === null)('click spool disk full (tmpfs)', () => {
  it('holds unspoolable batches in memory, reports it, drops nothing, and delivers every click once space frees', async () => {
    node = await startTestNode({
      natsUrl: TEST_NATS_URL, prefix,
      env: { CLICK_DIR: `${tmpfs!.dir}/clicks`, WORKERS: '1', CLICK_FLUSH_MS: '50', CLICK_BATCH_MAX: '100' },
    });
    expect(await get('/sp')).toBe(302);
    await waitFor('first click shipped', async () => (await node!.metric('linkplane_node_clicks_shipped_total')) === 1, 10_000, 50);

    tmpfs!.fill();
    for (let i = 0; i < CLICKS; i += 100) {
      const statuses = await Promise.all(Array.from({ length: 100 }, () => get('/sp')));
      statuses.forEach((s) => expect(s).toBe(302));
    }
    await waitFor('all held', async () => (await node!.metric('linkplane_node_clicks_held')) === CLICKS, 10_000, 50);
    expect(await node.metric('linkplane_node_click_spool_failing')).toBe(1);
    expect(await node.metric('linkplane_node_clicks_dropped_total')).toBe(0);
    expect(await node.metric('linkplane_node_clicks_spooled_total')).toBe(1);
    expect(await node.metric('linkplane_node_click_backlog_bytes')).toBeGreaterThan(0);
    const ready = await request(node.port, { path: '/readyz' });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(new RegExp(`^ready\\nclick spool not writable \\(CLICK_DIR full\\?\\): ${CLICKS} clicks held in memory, backlog \\d+\\.\\d MB of CLICK_BACKLOG_MAX_MB; clicks dropped so far: 0\\n$`));
    expect(countLogs('click spool not writable (CLICK_DIR full?): holding click batches in memory up to CLICK_BACKLOG_MAX_MB and retrying')).toBe(1);

    tmpfs!.free();
    const t0 = Date.now();
    await waitFor('held clicks spooled', async () => (await node!.metric('linkplane_node_clicks_held')) === 0, 15_000, 50);
    const tSpooled = Date.now() - t0;
    await waitFor('all shipped', async () => (await node!.metric('linkplane_node_clicks_shipped_total')) === CLICKS + 1, 15_000, 50);
    expect(await node.metric('linkplane_node_click_spool_failing')).toBe(0);
    expect(await node.metric('linkplane_node_clicks_dropped_total')).toBe(0);
    expect((await request(node.port, { path: '/readyz' })).body).toBe('ready\n');
    expect(countLogs('click spool writable again: held click batches spooled')).toBe(1);
    const stored = await storedClicks();
    expect(stored.size).toBe(CLICKS + 1);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    console.log(`spool full: ${CLICKS} answered clicks held in memory, 0 dropped; spooled ${tSpooled} ms after space was freed, all ${stored.size} in JetStream once`);
  });

  it('past CLICK_BACKLOG_MAX_MB new clicks are dropped and counted; a stop that still cannot spool counts the held ones as dropped', async () => {
    await node!.stop();
    await node!.restart({ CLICK_BACKLOG_MAX_MB: '1', CLICK_STOP_FLUSH_MS: '0' });
    const shippedBefore = await storedClicks();
    tmpfs!.fill();
    let sent = 0;
    while ((await node!.metric('linkplane_node_clicks_backlog_dropped_total')) === 0 && sent < 200_000) {
      const statuses = await Promise.all(Array.from({ length: 500 }, () => get('/sp')));
      statuses.forEach((s) => expect(s).toBe(302));
      sent += 500;
    }
    // every batch handed over is held or dropped: nothing vanishes uncounted
    await waitFor('accounted', async () => {
      const received = await node!.metric('linkplane_node_clicks_received_total');
      const held = await node!.metric('linkplane_node_clicks_held');
      const dropped = await node!.metric('linkplane_node_clicks_dropped_total');
      return received + dropped === sent && held === received;
    }, 10_000, 100);
    const held = await node!.metric('linkplane_node_clicks_held');
    expect(held).toBeGreaterThan(0);
    expect(await node!.metric('linkplane_node_click_backlog_bytes')).toBeLessThanOrEqual(1024 * 1024);
    // said by the next retry (at most 2 s later), once
    const full = 'click backlog full while the spool is not writable: new clicks are being dropped (counted in clicks_dropped_total)';
    await waitFor('backlog-full log line', () => countLogs(full) > 0, 5000, 100);
    await sleep(2500);
    expect(countLogs(full)).toBe(1);

    await node!.stop();
    const lost = node!.proc.logs().find((l) => l.msg === 'click spool still not writable at stop: held clicks dropped');
    expect(lost).toMatchObject({ droppedEvents: held });
    tmpfs!.free();
    expect((await storedClicks()).size).toBe(shippedBefore.size);
    console.log(`backlog bound: ${sent} clicks answered, ${held} held in ≤ 1 MB, ${sent - held} dropped and counted; the held ones counted as dropped at stop`);
  });
});
