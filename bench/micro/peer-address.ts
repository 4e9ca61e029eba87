/**
 * Micro-benchmark of what reading the peer address costs a redirect with click capture: uWS.js
 * v20.30's `res.getRemoteAddress()` asks the kernel (`getpeername`) on every call and returns a new
 * ArrayBuffer. A native uWS app in this process answers one GET; its handler times, per call and
 * inside that one request, `getRemoteAddress()` against `getWriteOffset()` (a native call with no
 * system call and no allocation) and `new ArrayBuffer(4)` (the allocation alone). Repeated for a few
 * requests; medians are printed.
 *
 *   npx tsx bench/micro/peer-address.ts [calls per request] [requests]
 *
 * Seen on the bench VM (2026-12-04): getRemoteAddress 1.9–2.7 µs, getWriteOffset 12 ns, an
 * ArrayBuffer 0.2–1.2 µs; a bare `getpeername` from C on the same machine 1.2 µs (`getppid` 1.0 µs:
 * any system call costs about a microsecond on this VM).
 */
import { request } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import { loadNativeUws } from '../../data-plane/native-uws.js';

const CALLS = Number(process.argv[2] ?? 20_000);
const REQUESTS = Number(process.argv[3] ?? 7);

const uWS = loadNativeUws();

function perCall(f: () => number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) sink += f();
  const ns = Number(process.hrtime.bigint() - t0) / CALLS;
  return sink < 0 ? -1 : ns;
}

const samples = { getRemoteAddress: [] as number[], getWriteOffset: [] as number[], arrayBuffer: [] as number[] };

const app = uWS.App().get('/*', (res: HttpResponse) => {
  samples.getRemoteAddress.push(perCall(() => res.getRemoteAddress().byteLength));
  samples.getWriteOffset.push(perCall(() => res.getWriteOffset()));
  samples.arrayBuffer.push(perCall(() => new ArrayBuffer(4).byteLength));
  res.end('ok');
});

function get(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/x' }, (m) => {
      m.resume();
      m.on('end', resolve);
    })
      .on('error', reject)
      .end();
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

app.listen('127.0.0.1', 0, async (token) => {
  if (!token) throw new Error('peer-address: could not listen');
  const port = uWS.us_socket_local_port(token);
  for (let i = 0; i < REQUESTS; i++) await get(port);
  for (const [name, xs] of Object.entries(samples)) {
    console.log(`${name.padEnd(18)} median ${median(xs).toFixed(0)} ns per call (${xs.map((x) => x.toFixed(0)).join(', ')})`);
  }
  uWS.us_listen_socket_close(token);
  process.exit(0);
});
