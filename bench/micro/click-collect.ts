/**
 * Micro-benchmark of the node's main-thread side of click capture alone: the collector reading a
 * ring and encoding the clicks into batches (ClickCollector.flush), with the clicks the redirect
 * bench sends (1 M links with UTM destinations, 1 000 visitors behind a trusted proxy, fresh strings).
 * The ring is filled first, outside the measure.
 *
 *   npx tsx bench/micro/click-collect.ts [clicks] [rounds] [read|none]
 *
 * Prints CPU µs per click read and encoded, per round (compare builds in one sitting, alternating).
 * Under callgrind, run it twice, `read` and `none` (the same program without the reads), and divide
 * the difference by clicks × rounds: instructions per click of the collector, whatever else runs.
 */
import { ClickRingWriter, createClickRing } from '../../data-plane/clicks/click-ring.js';
import { benchClick, benchCollector, fresh } from '../lib/click-bench.js';
import { visitorHeaderSets } from '../lib/link-dataset.js';

const N = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const READ = (process.argv[4] ?? 'read') === 'read';
const LINKS = 1_000_000;
const VISITORS = 1000;
let bytes = 0;
const collector = benchCollector((data) => {
  // as node.ts does before spooling
  bytes += Uint8Array.prototype.slice.call(data).byteLength;
});
const ring = createClickRing(128 * 1024 * 1024);
collector.ring(0, ring);
const writer = new ClickRingWriter(ring);
const visitors = visitorHeaderSets(VISITORS);
const peer = new Uint8Array([127, 0, 0, 1]);

function write(n: number, from: number): void {
  for (let i = from; i < from + n; i++) {
    const k = (i * 7919) % LINKS;
    const v = visitors[(i * 31) % VISITORS]!;
    const click = benchClick(k);
    writer.click(click, new Uint8Array(peer), fresh(v['x-forwarded-for']!), fresh(v['user-agent']!), '', '');
  }
}

const out: string[] = [];
for (let r = 0; r < ROUNDS; r++) {
  write(N, r * N);
  if (!READ) {
    // the same ring, emptied without reading the clicks
    const hdr = new Int32Array(ring, 0, 2);
    Atomics.store(hdr, 1, Atomics.load(hdr, 0));
    continue;
  }
  const t0 = process.cpuUsage();
  collector.flush();
  const u = process.cpuUsage(t0);
  out.push(((u.user + u.system) / N).toFixed(3));
}
process.stdout.write(`${READ ? `collector µs/click per round: ${out.join(' ')}; ` : ''}${collector.received} read, ${writer.dropped} dropped, ${(bytes / 1e6).toFixed(1)} MB encoded\n`);
