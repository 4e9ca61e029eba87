/**
 * Propagation while one of three NATS servers dies: a control plane and two nodes on a 3-server
 * cluster (R3 links bucket), a writer creating a link every 50 ms, and the server that leads the
 * links stream killed -9 in the middle (the worst case: JetStream stores no KV write until a new
 * leader is elected, 4–9 s with nats-server's fixed raft election timeout). Every link created is
 * timed from its 201 to being served by both nodes.
 *
 * Issue 14's target — propagation p99 ≤ 1 s for the writes made during the failover, none lost —
 * holds because of the live lane: the relay also sends each row on core NATS, which any live
 * server routes without a stream leader, and nodes apply it at once (docs/operations.md). The KV
 * path still has to deliver every write (it is what the relay waits for before deleting a row);
 * the test prints the timeline of both. LP_FAILOVER_VICTIM=other kills a server that does not lead
 * the stream instead; LP_FAILOVER_LOGS=1 prints the processes' log lines.
 *
 * A drill, not part of `npm test`: it runs with LP_CHAOS=1 (`npm run chaos`, called by .ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import { natsNames } from '../../shared/index.js';
import { sleep, testPrefix, type NatsCluster, type RunningProcess } from '../../shared/testing/index.js';
import { DOMAIN, request, type TestNode } from '../../data-plane/test/harness.js';
import { startClusterPlane, type ClusterPlane } from './cluster-plane.js';

const KEY = 'lp_failover_test_admin_secret_00000000001';
const HOST = DOMAIN.hostname;
const VICTIM = process.env.LP_FAILOVER_VICTIM ?? 'leader';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe.skipIf(!process.env.LP_CHAOS)('NATS server loss: propagation', () => {
  let plane: ClusterPlane | undefined;
  let cluster: NatsCluster;
  let cp: RunningProcess;
  let api: string;
  const nodes: TestNode[] = [];
  const prefix = testPrefix('failover');

  beforeAll(async () => {
    plane = await startClusterPlane({ name: 'failover', prefix, adminKey: KEY, cpEnv: { RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '100000' }, nodeEnv: { CLICK_CAPTURE: 'false' } });
    ({ cluster, cp, api } = plane);
    nodes.push(...plane.nodes);
  }, 180_000);

  afterAll(async () => {
    await plane?.destroy();
  });

  it('every write made while a server dies reaches both nodes; after the election within seconds, without a leader loss within 1 s (p99)', async () => {
    const nc = await connect({ servers: cluster.urls.split(',') });
    const info = await (await jetstreamManager(nc)).streams.info(natsNames(prefix).linksStream);
    await nc.close();
    const leader = info.cluster?.leader;
    const victim = VICTIM === 'leader'
      ? cluster.members.find((m) => m.name === leader)!
      : cluster.members.find((m) => m.name !== leader)!;

    const created = new Map<string, number>(); // path → when the 201 came
    const served = new Map<string, number>(); // path → ms from 201 to served by both
    const servedAt = new Map<string, number>();
    const pending = new Map<string, Set<number>>();
    let writing = true;
    let writerDone = false;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        const path = `fo${n++}`;
        const r = await fetch(`${api}/v1/links`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ domain: HOST, path, destination_url: `https://example.org/${path}` }),
        });
        expect(r.status).toBe(201);
        created.set(path, performance.now());
        pending.set(path, new Set(nodes.map((_, i) => i)));
        await sleep(50);
      }
      writerDone = true;
    })();
    const checker = (async () => {
      while (!writerDone || pending.size > 0) {
        await Promise.all([...pending].flatMap(([path, left]) => [...left].map(async (i) => {
          const r = await request(nodes[i]!.port, { path: `/${path}` });
          if (r.status === 302) left.delete(i);
          if (left.size === 0 && pending.delete(path)) {
            servedAt.set(path, performance.now());
            served.set(path, performance.now() - created.get(path)!);
          }
        })));
        await sleep(5);
      }
    })();

    await sleep(3000);
    const killedAt = performance.now();
    await victim.stop('SIGKILL');
    // JetStream's own part: until the links stream has a leader again no KV write can be stored,
    // and until the cluster can create a consumer on it no node can open a new watch
    let leaderBack = killedAt;
    let consumersBack = killedAt;
    if (VICTIM === 'leader') {
      const probe = await connect({ servers: cluster.members.filter((m) => m !== victim).map((m) => m.url) });
      const jsm = await jetstreamManager(probe, { timeout: 500, checkAPI: false });
      const stream = natsNames(prefix).linksStream;
      for (;;) {
        const si = await jsm.streams.info(stream).catch(() => null);
        if (si?.cluster?.leader && si.cluster.leader !== victim.name) break;
        await sleep(20);
      }
      leaderBack = performance.now();
      for (;;) {
        const ci = await jsm.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.New, mem_storage: true, inactive_threshold: 5_000_000_000 }).catch(() => null);
        if (ci) {
          await jsm.consumers.delete(stream, ci.name).catch(() => undefined);
          break;
        }
        await sleep(20);
      }
      consumersBack = performance.now();
      await probe.close();
    }
    await sleep(12_000 - (performance.now() - killedAt));
    writing = false;
    await writer;
    await Promise.race([checker, sleep(60_000)]);
    const wall = Date.now() - (performance.now() - killedAt); // the kill, in wall-clock ms (log times)
    const firstLog = (proc: RunningProcess, match: (msg: string) => boolean): string => {
      const l = proc.logs().find((e) => Date.parse(String(e.time)) >= wall && match(String(e.msg)));
      return l ? `${Math.round(Date.parse(String(l.time)) - wall)} ms` : '-';
    };
    const afterKill = [...created].filter(([, t]) => t >= killedAt).sort((x, y) => x[1] - y[1]);
    const firstAfter = afterKill[0];
    console.log(`timeline from the kill (0 ms): first KV write refused ${firstLog(cp, (m) => m.startsWith('outbox relay failing'))}; ` +
      `stream leader elected ${Math.round(leaderBack - killedAt)} ms; a consumer can be created ${Math.round(consumersBack - killedAt)} ms; ` +
      `first successful KV put ${firstLog(cp, (m) => m.startsWith('outbox relay recovered'))}; ` +
      `first link created after the kill at ${firstAfter ? Math.round(firstAfter[1] - killedAt) : '-'} ms served by both nodes ${firstAfter && servedAt.has(firstAfter[0]) ? Math.round(servedAt.get(firstAfter[0])! - killedAt) : '-'} ms; ` +
      `node watches reopened ${nodes.map((n) => firstLog(n.proc, (m) => m.startsWith('links stream answers again') || m.startsWith('resuming links sync'))).join(', ')}; ` +
      `live updates applied ${(await Promise.all(nodes.map((n) => n.metric('linkplane_node_sync_live_applied_total')))).join(', ')}, ` +
      `KV entries superseded ${(await Promise.all(nodes.map((n) => n.metric('linkplane_node_sync_kv_superseded_total')))).join(', ')}, live updates ignored ${(await Promise.all(nodes.map((n) => n.metric('linkplane_node_sync_live_ignored_total')))).join(', ')}`);
    if (process.env.LP_FAILOVER_LOGS) {
      for (const [name, proc] of [['cp', cp], ['node0', nodes[0]!.proc], ['node1', nodes[1]!.proc]] as const) {
        for (const l of proc.logs()) {
          const t = Date.parse(String(l.time));
          if (t >= wall - 500 && ['info', 'warn', 'error', 'fatal'].includes(l.level as string) && l.msg !== "incoming request" && l.msg !== "request completed") console.log(name, t - wall, l.msg, JSON.stringify(l.err ?? l.server ?? '').slice(0, 300));
        }
      }
    }
    if (pending.size > 0) {
      for (const [i, n] of nodes.entries()) {
        console.log(`node${i}: applied ${await n.metric('linkplane_node_sync_applied_sequence')} stream ${await n.metric('linkplane_node_sync_stream_sequence')} connected ${await n.metric('linkplane_node_nats_connected')} missing ${[...pending].filter(([, left]) => left.has(i)).map(([p]) => p).join(',')}`);
      }
      const probe = await connect({ servers: cluster.members.filter((m) => m !== victim).map((m) => m.url) });
      const si = await (await jetstreamManager(probe)).streams.info(natsNames(prefix).linksStream).catch((err: unknown) => String(err));
      console.log('links stream', typeof si === 'string' ? si : JSON.stringify({ last: si.state.last_seq, leader: si.cluster?.leader }));
      await probe.close();
    }
    expect([...pending.keys()]).toEqual([]);

    // what our code adds on top of the election: from max(201, new leader) to served by both nodes
    const excess = [...servedAt].filter(([p]) => created.get(p)! >= killedAt - 1000 && created.get(p)! <= killedAt + 12_000)
      .map(([p, at]) => at - Math.max(created.get(p)!, leaderBack, consumersBack)).sort((x, y) => x - y);
    const during = [...served].filter(([p]) => created.get(p)! >= killedAt - 1000 && created.get(p)! <= killedAt + 12_000).map(([, ms]) => ms).sort((x, y) => x - y);
    const all = [...served.values()].sort((x, y) => x - y);
    const slowest = [...served].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([p, ms]) => `${p}:${Math.round(ms)}`);
    console.log(`victim ${victim.name} (${VICTIM}; stream leader was ${leader}): ${served.size} links; no stream leader for ${Math.round(leaderBack - killedAt)} ms, no new consumer for ${Math.round(consumersBack - killedAt)} ms; during failover n=${during.length} p50 ${Math.round(percentile(during, 50))} ms p99 ${Math.round(percentile(during, 99))} ms max ${Math.round(during[during.length - 1]!)} ms; beyond the election p99 ${Math.round(percentile(excess, 99))} ms max ${Math.round(excess[excess.length - 1]!)} ms; all p99 ${Math.round(percentile(all, 99))} ms; slowest ${slowest.join(' ')}`);
    // Issue 14's target: p99 ≤ 1 s for the writes made during the failover (n ≈ 90–150 here, so p99 is
    // about the slowest write). With the live lane a write is served in tens of ms even with no stream
    // leader; the slowest are those whose live copy a node missed while reconnecting to another server,
    // sent again 0.2–0.5 s later (measured p99 0.2–0.5 s on a 2-core machine at load ~30). The bound is
    // the target itself: 2–4× the measured p99, which absorbs a slower CI machine, while a write that
    // had to wait for the KV (the election: 4–9 s) still fails it.
    expect(percentile(during, 99)).toBeLessThanOrEqual(1000);
  });
});
