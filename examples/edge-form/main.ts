/**
 * The worker on your machine, for trying it without an edge platform: node:http in front of
 * `worker.fetch` (on Cloudflare, `wrangler deploy` takes worker.ts as it is).
 *
 *   LINKPLANE_API_URL=… LINKPLANE_API_KEY=lp_… LINKPLANE_DOMAIN=go.example.com \
 *   [ALLOWED_ORIGIN=https://www.example.com] [ALLOWED_HOSTS=example.com] PORT=8787 npx tsx examples/edge-form/main.ts
 */
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { setting } from '../lib/env.js';
import { readBody } from '../lib/http.js';
import worker, { type Env } from './worker.js';

const env = process.env;
const workerEnv: Env = {
  LINKPLANE_API_URL: setting(env, 'LINKPLANE_API_URL'),
  LINKPLANE_API_KEY: setting(env, 'LINKPLANE_API_KEY'),
  LINKPLANE_DOMAIN: setting(env, 'LINKPLANE_DOMAIN'),
  ALLOWED_ORIGIN: env.ALLOWED_ORIGIN,
  ALLOWED_HOSTS: env.ALLOWED_HOSTS,
};
const port = Number(setting(env, 'PORT', '8787'));
createServer(async (req, res) => {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
  const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
  const response = await worker.fetch(new Request(`http://${req.headers.host ?? 'localhost'}${req.url}`, { method: req.method, headers, body }), workerEnv);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body) Readable.fromWeb(response.body as NodeReadableStream).pipe(res);
  else res.end();
}).listen(port, () => console.log(`edge form: POST http://127.0.0.1:${port}/`));
