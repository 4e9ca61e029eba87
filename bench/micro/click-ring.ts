/**
 * Micro-benchmark of click capture as the node does it since issue 13: the serving thread's cost
 * (ClickRingWriter.click: one record per click) and the main thread's (ClickCollector: read the
 * ring, encode the batch), measured apart, with realistic clicks (1 M links with UTM destinations,
 * 200 visitors (the redirect bench has 1 000: pass 1000) behind a trusted proxy, every string freshly allocated as uWS
 * and the store hand them out).
 *
 *   npx tsx bench/micro/click-ring.ts [clicks] [links] [visitors]
 *
 * Prints CPU µs per click for each side over three runs. Compare runs in one sitting.
 */
import { ClickRingWriter, createClickRing } from '../../data-plane/clicks/click-ring.js';
import { benchClick, benchCollector, fresh } from '../lib/click-bench.js';
import { visitorHeaderSets } from '../lib/link-dataset.js';

const N = Number(process.argv[2] ?? 200_000);
const LINKS = Number(process.argv[3] ?? 1_000_000);
const VISITORS = Number(process.argv[4] ?? 200);
let bytes = 0;
const collector = benchCollector((data) => {
  bytes += data.byteLength;
  void Uint8Array.prototype.slice.call(data);
});
const ring = createClickRing(64 * 1024 * 1024);
collector.ring(0, ring);
const writer = new ClickRingWriter(ring);
const visitors = visitorHeaderSets(VISITORS);
const peer = new Uint8Array([127, 0, 0, 1]);

function write(n: number, from: number): number {
  const t0 = process.cpuUsage();
  for (let i = from; i < from + n; i++) {
    const k = (i * 7919) % LINKS;
    const v = visitors[i % VISITORS]!;
    const click = benchClick(k);
    writer.click(click, new Uint8Array(peer), fresh(v['x-forwarded-for']!), fresh(v['user-agent']!), '', fresh('en-US,en;q=0.9'));
  }
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / n;
}

/** The harness alone (the same fresh strings, no ring write): subtracted from the writer's figure. */
function harness(n: number, from: number): number {
  let sink = 0;
  const t0 = process.cpuUsage();
  for (let i = from; i < from + n; i++) {
    const k = (i * 7919) % LINKS;
    const v = visitors[i % VISITORS]!;
    const click = {
      linkId: fresh(`lnk_01ABCDEFGHJKMNPQRS${k.toString().padStart(7, '0')}`), workspaceId: fresh('ws_01ABCDEFGHJKMNPQRSTVWXYZ00'), domain: fresh('go.bench.example'),
      path: fresh(`k${k}`), destination: fresh(`https://www.example.com/landing/${k}?utm_source=newsletter&utm_medium=email&utm_campaign=bench`),
    };
    sink += click.linkId.length + new Uint8Array(peer).length + fresh(v['x-forwarded-for']!).length + fresh(v['user-agent']!).length + fresh('en-US,en;q=0.9').length;
  }
  const u = process.cpuUsage(t0);
  return sink < 0 ? 0 : (u.user + u.system) / n;
}

function read(n: number): number {
  const t0 = process.cpuUsage();
  collector.flush();
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / n;
}

write(50_000, 0);
read(50_000);
for (let r = 0; r < 3; r++) {
  const h = harness(N, r * N);
  const w = write(N, r * N);
  const m = read(N);
  process.stdout.write(`run ${r + 1}: serving thread ${(w - h).toFixed(2)} µs/click (writer ${w.toFixed(2)} − harness ${h.toFixed(2)}), main thread ${m.toFixed(2)} µs/click\n`);
}
process.stdout.write(`${collector.received} clicks read, ${writer.dropped} dropped, ${(bytes / 1e6).toFixed(1)} MB encoded\n`);
