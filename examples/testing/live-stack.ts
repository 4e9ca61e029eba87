/**
 * One live linkplane stack per example test file: a real control plane process (dist/, as
 * production runs it) on its own Postgres database and NATS prefix, an admin key, optionally a
 * real redirect node, and small HTTP helpers (a recording stand-in endpoint, a free-port server).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanupNatsPrefix, createTestDatabase, freePort, startProcess, TEST_NATS_URL, testPrefix, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';

export interface RedirectNode {
  port: number;
  /** GET (or another method) `path` on the node with `Host: host`; the answer is not followed. */
  visit(host: string, path: string, headers?: Record<string, string>, method?: string): Promise<{ status: number; location: string | undefined }>;
}

export interface LiveStack {
  /** The API's base URL, e.g. http://127.0.0.1:41234 (no trailing slash, no /v1). */
  apiUrl: string;
  adminKey: string;
  node: RedirectNode | null;
  /** One API call with `key` (default: the admin key); JSON in and out. */
  call(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Registers a domain and returns its hostname. */
  domain(hostname: string): Promise<string>;
  /** A new API key with `role` (limited to `domains` when given); returns its secret. */
  key(role: 'admin' | 'publisher' | 'analyst' | 'read-only', domains?: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function startLiveStack(label: string, opts: { node?: boolean; env?: Record<string, string> } = {}): Promise<LiveStack> {
  const db: TestDatabase = await createTestDatabase(`ex_${label}`);
  const prefix = testPrefix(`ex${label}`);
  const adminKey = `lp_example_${label}_admin_secret_0123456789abcdef`;
  const port = await freePort();
  const procs: RunningProcess[] = [];
  const dirs: string[] = [];
  const stop = async () => {
    for (const p of procs.reverse()) await p.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await db.drop();
    await cleanupNatsPrefix(prefix).catch(() => undefined);
  };
  try {
    procs.push(startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: adminKey,
      LOG_LEVEL: 'warn', DB_POOL_MAX: '6', RATE_LIMIT_BURST: '10000', RATE_LIMIT_PER_SEC: '10000',
      // webhooks to the test's loopback receivers, found quickly; jobs picked up quickly
      WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCHEDULE: '1s,1s', JOB_POLL_MS: '50',
      CLICK_ROLLUP_COMPACT_MS: '500',
      ...opts.env,
    }));
    const apiUrl = `http://127.0.0.1:${port}`;
    const ready = waitForHttp(`${apiUrl}/readyz`, 200, 60_000);
    let node: RedirectNode | null = null;
    if (opts.node) {
      const nodePort = await freePort();
      const lmdb = mkdtempSync(join(tmpdir(), 'lp-example-node-'));
      dirs.push(lmdb);
      procs.push(startProcess('data-plane/main.js', {
        PORT: String(nodePort), HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, NATS_PREFIX: prefix, LMDB_PATH: lmdb,
        NODE_ID: `example-${label}`, WORKERS: '1', SHUTDOWN_GRACE_MS: '200', CLICK_FLUSH_MS: '20', LOG_LEVEL: 'warn',
        TRUSTED_PROXIES: '127.0.0.1/32', // the tests' visitors come through X-Forwarded-For
      }));
      await ready;
      await waitForHttp(`http://127.0.0.1:${nodePort}/readyz`, 200, 60_000);
      node = { port: nodePort, visit: (host, path, headers = {}, method = 'GET') => visit(nodePort, host, path, headers, method) };
    }
    await ready;
    const call: LiveStack['call'] = async (method, path, body, key = adminKey) => {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    return {
      apiUrl,
      adminKey,
      node,
      call,
      async domain(hostname) {
        const r = await call('POST', '/v1/domains', { hostname });
        if (r.status !== 201) throw new Error(`domain ${hostname}: ${r.status} ${JSON.stringify(r.json)}`);
        return hostname;
      },
      async key(role, domains) {
        const r = await call('POST', '/v1/keys', { name: `example-${role}`, role, ...(domains ? { domains } : {}) });
        if (r.status !== 201) throw new Error(`key ${role}: ${r.status} ${JSON.stringify(r.json)}`);
        return String(r.json.secret);
      },
      close: stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function visit(port: number, host: string, path: string, headers: Record<string, string>, method: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers: { host, ...headers }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A local HTTP endpoint that records every request and answers `status` (a stand-in for a third party). */
export async function startStandIn(status = 204): Promise<{ url: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const srv = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(status).end();
    });
  });
  return { url: srv.url, requests, close: srv.close };
}

/** Listens on a free loopback port. */
export async function listen(handler: RequestListener): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
