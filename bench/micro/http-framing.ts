/**
 * Micro-benchmark of the node's framing check (data-plane/http-framing.ts) on real uWS requests:
 * a native uWS app in this process answers pipelined GETs from a raw socket. Its handler reads the
 * five headers a redirect with click capture reads, either with `getHeader` and no check (`0×`,
 * the node before the check) or from the check's pass (`1×`, the node now; `21×`: the check run 21
 * times). CPU per request is read from process.cpuUsage (client and server share the process, so
 * only differences mean anything): `1× − 0×` is what the check costs the node as served,
 * `(21× − 1×) / 20` the check alone with the noise divided down. Two header sets: short (Host +
 * User-Agent) and browser-like (Chrome's navigation request, 16 headers with cookies).
 *
 *   npx tsx bench/micro/http-framing.ts [requests per run] [rounds]
 *
 * Runs interleave the modes round by round and report medians.
 */
import { connect, type Socket } from 'node:net';
import { framingProblem, seen } from '../../data-plane/http-framing.js';
import { loadNativeUws } from '../../data-plane/native-uws.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 7);
const PIPELINE = 32;

const SHORT = 'GET /abc123 HTTP/1.1\r\nHost: go.example.com\r\nUser-Agent: curl/8.5.0\r\n\r\n';
const BROWSER = [
  'GET /abc123?utm_source=newsletter HTTP/1.1',
  'Host: go.example.com',
  'Connection: keep-alive',
  'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"',
  'sec-ch-ua-mobile: ?0',
  'sec-ch-ua-platform: "Windows"',
  'Upgrade-Insecure-Requests: 1',
  'User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
  'Sec-Fetch-Site: cross-site',
  'Sec-Fetch-Mode: navigate',
  'Sec-Fetch-Dest: document',
  'Referer: https://mail.example.org/',
  'Accept-Encoding: gzip, deflate, br, zstd',
  'Accept-Language: en-GB,en;q=0.9,de;q=0.8',
  'Cookie: _ga=GA1.1.123456789.1700000000; session=0123456789abcdef0123456789abcdef',
].join('\r\n') + '\r\n\r\n';

const uws = loadNativeUws();
const app = uws.App();
let checks = 0;
let refused = 0;
let read = 0;
app.get('/*', (res, req) => {
  if (checks === 0) {
    read += req.getHeader('host').length + req.getHeader('user-agent').length + req.getHeader('referer').length +
      req.getHeader('accept-language').length + req.getHeader('x-forwarded-for').length;
  } else {
    for (let i = 0; i < checks; i++) if (framingProblem(req) !== null) refused++;
    read += seen.host.length + seen.userAgent.length + seen.referer.length + seen.acceptLanguage.length + seen.forwardedFor.length;
  }
  res.end('');
});
const port = await new Promise<number>((resolve, reject) =>
  app.listen('127.0.0.1', 0, (s) => (s ? resolve(uws.us_socket_local_port(s as never)) : reject(new Error('listen failed')))),
);

function open(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
  });
}

/** Sends `n` requests, PIPELINE at a time; resolves after the last answer. */
function drive(sock: Socket, request: string, n: number): Promise<void> {
  const batch = Buffer.from(request.repeat(PIPELINE), 'latin1');
  return new Promise((resolve) => {
    let answered = 0;
    let pending = 0;
    const onData = (d: Buffer) => {
      // every answer starts with one status line
      for (let i = d.indexOf('HTTP/1.1 '); i !== -1; i = d.indexOf('HTTP/1.1 ', i + 9)) {
        answered++;
        pending--;
      }
      if (answered >= n) {
        sock.off('data', onData);
        resolve();
      } else if (pending === 0) next();
    };
    const next = () => {
      pending += PIPELINE;
      sock.write(batch);
    };
    sock.on('data', onData);
    next();
  });
}

async function run(sock: Socket, request: string, mode: number): Promise<number> {
  checks = mode;
  const t0 = process.cpuUsage();
  await drive(sock, request, N);
  const u = process.cpuUsage(t0);
  return (u.user + u.system) / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const sock = await open();
await run(sock, BROWSER, 1); // warm up both paths
await run(sock, SHORT, 1);
for (const [name, request] of [['short', SHORT], ['browser-like', BROWSER]] as const) {
  const r: Record<number, number[]> = { 0: [], 1: [], 21: [] };
  for (let round = 0; round < ROUNDS; round++) for (const mode of [0, 1, 21]) r[mode]!.push(await run(sock, request, mode));
  const [off, one, many] = [median(r[0]!), median(r[1]!), median(r[21]!)];
  console.log(
    `${name.padEnd(12)} CPU µs/request: 0× ${off.toFixed(3)}  1× ${one.toFixed(3)}  21× ${many.toFixed(3)}  ` +
      `→ cost to the node ${(one - off).toFixed(3)} µs (1× − 0×); the check alone ${((many - one) / 20).toFixed(3)} µs ((21× − 1×)/20)`,
  );
}
if (refused !== 0) throw new Error(`a well-formed request was refused ${refused} times`);
if (read === 0) throw new Error('no header was read');
sock.destroy();
process.exit(0);
