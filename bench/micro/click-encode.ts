/**
 * Micro-benchmark of the click capture path on a serving thread, without uWS or the spool: a
 * ClickBuffer fed realistic clicks (1 M links with UTM destinations, the redirect bench's 200
 * visitors, every string freshly allocated as uWS hands them out), encoded in chunks between
 * event-loop turns, each batch copied as the worker does before posting it.
 *
 *   npx tsx bench/micro/click-encode.ts [clicks] [on|off] [links]
 *
 * Prints CPU µs per click over three runs; `off` runs the same loop without capturing (the
 * harness's own cost), so capture costs on − off. Compare both in one sitting.
 */
import { ClickBuffer } from '../../data-plane/clicks/click-buffer.js';
import { createDeviceDetector } from '../../data-plane/device.js';
import { openGeo, loadGeoDatabase } from '../../data-plane/geo.js';
import { ipFromBytes, parseCidr } from '../../data-plane/ip.js';
import { visitorHeaderSets } from '../lib/link-dataset.js';
import { defaultGeoipDb } from '../../data-plane/config.js';

const geo = openGeo(loadGeoDatabase(defaultGeoipDb()));
const salt = new Uint8Array(32).fill(7);
let bytes = 0;
const buf = new ClickBuffer({
  nodeId: 'node-1', geo, device: createDeviceDetector(10000), salts: () => salt,
  trustedProxies: [parseCidr('127.0.0.1/32')!],
  emit(data) {
    bytes += data.byteLength;
    void Uint8Array.prototype.slice.call(data);
  },
});
const visitors = visitorHeaderSets(200);
const fresh = (s: string) => Buffer.from(s, 'latin1').toString('latin1');
const N = Number(process.argv[2] ?? 300000);
const capture = process.argv[3] !== 'off';
const LINKS = Number(process.argv[4] ?? 1_000_000);
async function run(n: number) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % LINKS;
    const v = visitors[i % 200]!;
    const click = { linkId: fresh(`lnk_01ABCDEFGHJKMNPQRS${k.toString().padStart(7, '0')}`), workspaceId: fresh('ws_01ABCDEFGHJKMNPQRSTVWXYZ00'), domain: fresh('go.bench.example'), path: fresh(`k${k}`),
      destination: fresh(`https://www.example.com/landing/${k}?utm_source=newsletter&utm_medium=email&utm_campaign=bench`), ruleId: null, variantId: null, country: null, os: null, device: null, qr: false, at: Date.now() };
    const visit = { peer: ipFromBytes(new Uint8Array([127, 0, 0, 1])), forwardedFor: fresh(v['x-forwarded-for']!), userAgent: fresh(v['user-agent']!), referer: '', acceptLanguage: fresh('en-US,en;q=0.9') };
    if (capture) buf.capture(click, visit);
    if (i % 32 === 31) await new Promise((r) => setImmediate(r));
  }
  buf.flush();
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / n;
}
await run(50000);
const r = [];
for (let j = 0; j < 3; j++) r.push(await run(N));
console.log(capture ? 'on' : 'off', r.map((x) => x.toFixed(2)).join(' '), 'µs/click', 'bytes/click', capture ? (bytes / buf.emitted).toFixed(0) : '-');
