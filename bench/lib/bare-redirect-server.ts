/**
 * The floor: a bare uWebSockets.js server on the main thread answering `302 Location` from a
 * plain LMDB lookup (`host + url` → destination string) and 404 otherwise — no rules, no metrics,
 * no click capture, no fallback pages. What our full-path node is compared against besides nginx:
 * the distance to this is what the node's own work costs.
 *
 * `node dist/bench/lib/bare-redirect-server.js <port> <lmdb dir>`; prints `listening <port>`.
 */
import { open } from 'lmdb';
import { loadNativeUws } from '../../data-plane/native-uws.js';

const [portArg, dir] = process.argv.slice(2);
if (!portArg || !dir) {
  process.stderr.write('usage: bare-redirect-server <port> <lmdb dir>\n');
  process.exit(2);
}
const db = open<string, string>({ path: dir, readOnly: true, encoding: 'string', cache: false, noReadAhead: true } as Parameters<typeof open>[0]);
const uws = loadNativeUws();
const app = uws.App();
app.any('/*', (res, req) => {
  const dest = db.get(req.getHeader('host') + req.getUrl());
  res.cork(() => {
    if (dest !== undefined) {
      res.writeStatus('302 Found');
      res.writeHeader('Location', dest);
      res.end();
    } else {
      res.writeStatus('404 Not Found');
      res.end('Not Found\n');
    }
  });
});
app.listen('127.0.0.1', Number(portArg), (sock) => {
  if (!sock) {
    process.stderr.write(`cannot listen on ${portArg}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening ${portArg}\n`);
});
process.once('SIGTERM', () => process.exit(0));
