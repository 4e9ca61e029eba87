/**
 * A redirect fixture kept running for profiling by hand: the quick (20 000-link) fixture's node
 * plus a capture-off node, their ports and pids printed, until SIGINT/SIGTERM.
 * `BENCH_NODE_ARGS=--perf-basic-prof node dist/bench/lib/dev-fixture.js`
 */
import { writeFileSync } from 'node:fs';
import { BenchContext, startBenchNode } from './bench-context.js';

const ctx = new BenchContext();
const fx = await ctx.redirectFixture(true);
const off = await startBenchNode({ natsUrl: fx.natsUrl, prefix: fx.prefix, lmdbPath: ctx.scratch('off'), cpus: null, env: { CLICK_CAPTURE: 'false' } });
const info = { host: fx.host, node: { port: fx.node.port, pid: fx.node.pid, ops: fx.node.opsPort }, off: { port: off.port, pid: off.pid }, paths: fx.plainPaths.slice(0, 20000), headerSets: fx.headerSets };
writeFileSync(process.env.FIXTURE_INFO ?? '/tmp/dev-fixture.json', JSON.stringify(info));
process.stdout.write(`ready node ${fx.node.port} (pid ${fx.node.pid}), off ${off.port} (pid ${off.pid})\n`);
const stop = async () => {
  await off.stop();
  await ctx.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
setInterval(() => undefined, 1 << 30);
