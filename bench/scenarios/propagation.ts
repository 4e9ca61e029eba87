/**
 * `propagation`: how long after the API says 201 a node serves the new link. A real control
 * plane (dist/, own database) and a real node (dist/, one worker) on a private nats-server; for
 * each sample: POST /v1/links, then GET the path on the node every millisecond until it answers
 * 302 with the link's destination. 1 000 samples one after another (100 with --quick).
 * Target (design §5): p99 ≤ 100 ms from the 201 to the first 302.
 *
 * The path: API transaction (link + outbox row) → NOTIFY → outbox relay → KV put → the node's
 * watch → LMDB write transaction → the worker's next read.
 */
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../../shared/testing/index.js';
import { startBenchNode } from '../lib/bench-context.js';
import { startBenchControlPlane } from '../lib/control-plane.js';
import { newHistogram, summarize } from '../lib/http-load.js';
import type { ScenarioOptions, ScenarioResult } from '../lib/scenario.js';

const HOST = 'go.bench-propagation.example.com';
const PREFIX = 'lpbprop';

function probe(agent: Agent, port: number, path: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { host: HOST } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = (us: number) => Math.round(us) / 1000;

export async function run(opts: ScenarioOptions): Promise<ScenarioResult> {
  const samples = opts.quick ? 100 : 1000;
  const warmup = 20;
  const nats = await startNatsServer();
  const lmdb = mkdtempSync(join(tmpdir(), 'lp-bench-prop-'));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const cp = await startBenchControlPlane({ label: 'propagation', natsUrl: nats.url, prefix: PREFIX });
    try {
      const domain = await cp.call('POST', '/v1/domains', { hostname: HOST });
      if (domain.status !== 201) throw new Error(`POST /v1/domains → ${domain.status} ${JSON.stringify(domain.json)}`);
      const node = await startBenchNode({ natsUrl: nats.url, prefix: PREFIX, lmdbPath: lmdb, cpus: null });
      try {
        const served = newHistogram();
        const total = newHistogram();
        const api = newHistogram();
        let failed = 0;
        const run = Date.now().toString(36);
        for (let i = 0; i < warmup + samples; i++) {
          const path = `p-${run}-${i}`;
          const destination = `https://www.example.com/propagation/${i}`;
          const t0 = performance.now();
          const res = await cp.call('POST', '/v1/links', { domain: HOST, path, destination_url: destination });
          const t1 = performance.now();
          if (res.status !== 201) throw new Error(`POST /v1/links → ${res.status} ${JSON.stringify(res.json)}`);
          let t2 = 0;
          for (;;) {
            const r = await probe(agent, node.port, `/${path}`);
            if (r.status === 302 && r.location === destination) {
              t2 = performance.now();
              break;
            }
            if (performance.now() - t1 > 10_000) break;
            await sleep(1);
          }
          if (i < warmup) continue;
          if (t2 === 0) {
            failed++;
            continue;
          }
          served.recordValue(Math.max(1, Math.round((t2 - t1) * 1000)));
          total.recordValue(Math.max(1, Math.round((t2 - t0) * 1000)));
          api.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
        }
        const row = (measure: string, h: ReturnType<typeof newHistogram>) => {
          const s = summarize(h);
          return { measure, samples: h.totalCount, 'p50 ms': ms(s.p50), 'p90 ms': ms(s.p90), 'p99 ms': ms(s.p99), 'max ms': ms(s.max) };
        };
        const p99 = summarize(served).p99 / 1000;
        return {
          rows: [
            row('API 201 → first 302 from the node', served),
            row('POST sent → first 302 from the node', total),
            row('POST sent → 201 (the API alone)', api),
          ],
          notes: [
            `${samples} links created one after another (after ${warmup} warm-up links); the node polled every ~1 ms over a keep-alive connection, so figures carry up to ~1 ms of polling granularity`,
            'control plane and node from dist/, default relay and sync settings, a private nats-server, the local Postgres',
          ],
          targets: [
            { name: 'API 201 → first 302 p99 (ms)', value: p99, target: 100, op: '<=' },
            { name: 'failed samples', value: failed, target: 0, op: '<=' },
          ],
        };
      } finally {
        await node.stop();
      }
    } finally {
      await cp.close();
    }
  } finally {
    agent.destroy();
    await nats.destroy();
    rmSync(lmdb, { recursive: true, force: true });
  }
}
