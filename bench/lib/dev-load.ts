/**
 * Load against the dev fixture (dev-fixture.ts), for profiling by hand:
 * `node dist/bench/lib/dev-load.js <node|off> <seconds> [pipelining] [rate]` prints req/s and CPU µs/req.
 */
import { readFileSync } from 'node:fs';
import { runLoad, type PathSet } from './http-load.js';

const info = JSON.parse(readFileSync(process.env.FIXTURE_INFO ?? '/tmp/dev-fixture.json', 'utf8')) as {
  host: string; node: { port: number; pid: number }; off: { port: number; pid: number }; paths: string[]; headerSets: Record<string, string>[];
};
const [which = 'node', seconds = '5', pipelining = '1', rate] = process.argv.slice(2);
const target = which === 'off' ? info.off : info.node;
const pathSet: PathSet = { host: info.host, paths: info.paths, headerSets: info.headerSets };
const r = await runLoad({
  host: '127.0.0.1', port: target.port, connections: 32, warmupMs: 500, durationMs: Number(seconds) * 1000,
  mode: rate ? { kind: 'open', rate: Number(rate) } : { kind: 'closed', pipelining: Number(pipelining) },
  requests: [], pathSet, expect: [302], serverPids: [target.pid],
});
process.stdout.write(`${which}: ${Math.round(r.rps)} req/s, ${r.serverCpuUsPerRequest?.toFixed(2)} µs/req, p99 ${r.latencyUs.p99} µs, p99.9 ${r.latencyUs.p999} µs, unexpected ${r.unexpected}, errors ${r.errors}\n`);
