/**
 * Integration-test plumbing for the redirect node: a KV writer speaking the exact contract the
 * control plane publishes (compiled rules in the links bucket), a node process on a free port with
 * its own temp LMDB dir, and an HTTP client that sends any Host and any raw path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  compileDomain, compileLink, domainKvKey, encodeKvValue, linkKvKey, openLinksBucket,
  type DomainSettings, type LinkSource,
} from '../../shared/index.js';
import { freePort, startProcess, waitFor, waitForHttp, type RunningProcess } from '../../shared/testing/index.js';
import { DOMAIN, linkSource } from './fixtures.js';

export { DOMAIN, linkSource };

/** Writes compiled links/domains straight into the bucket, as the control plane's relay does. */
export class LinksBucket {
  private constructor(readonly nc: NatsConnection, readonly kv: KV) {}

  static async open(url: string, prefix: string): Promise<LinksBucket> {
    const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    return new LinksBucket(nc, await openLinksBucket(nc, prefix));
  }

  putDomain(d: Partial<DomainSettings> = {}): Promise<number> {
    const settings = { ...DOMAIN, ...d };
    return this.kv.put(domainKvKey(settings.hostname), encodeKvValue(compileDomain(settings)));
  }

  putLink(l: LinkSource, domain: DomainSettings = DOMAIN): Promise<number> {
    return this.kv.put(linkKvKey(l.domain, l.path), encodeKvValue(compileLink(l, domain)));
  }

  deleteLink(domain: string, path: string): Promise<void> {
    return this.kv.delete(linkKvKey(domain, path));
  }

  async lastSeq(): Promise<number> {
    return (await this.kv.status()).streamInfo.state.last_seq;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP/1.1 request to 127.0.0.1:`port` with any Host and raw path. */
export function request(port: number, opts: { host?: string; path: string; method?: string; headers?: Record<string, string> }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: opts.path, method: opts.method ?? 'GET', headers: { host: opts.host ?? DOMAIN.hostname, ...opts.headers }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Writes raw bytes on a fresh connection; resolves with whatever came back before close/timeout. */
export function rawRequest(port: number, bytes: Buffer | string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      sock.destroy();
      resolve(out);
    };
    const t = setTimeout(done, timeoutMs);
    sock.on('data', (d) => {
      out += d.toString('latin1');
      if (/\r\n\r\n/.test(out)) {
        const m = /content-length: (\d+)/i.exec(out);
        const headerEnd = out.indexOf('\r\n\r\n') + 4;
        if (!m || out.length - headerEnd >= Number(m[1])) {
          clearTimeout(t);
          done();
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(t);
      done();
    });
    sock.write(bytes);
  });
}

export interface TestNode {
  port: number;
  /** The operations port: /metrics (and /healthz, /readyz). */
  opsPort: number;
  lmdbPath: string;
  proc: RunningProcess;
  url(path: string): string;
  metric(name: string): Promise<number>;
  /** Restarts on the same port and LMDB dir (after stop or kill). */
  restart(extraEnv?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Stops it and removes its LMDB dir. */
  destroy(): Promise<void>;
}

export async function startTestNode(opts: {
  natsUrl: string;
  prefix: string;
  env?: Record<string, string>;
  lmdbPath?: string;
  waitReady?: boolean;
}): Promise<TestNode> {
  const port = await freePort();
  const opsPort = await freePort();
  const lmdbPath = opts.lmdbPath ?? mkdtempSync(join(tmpdir(), 'lp-node-'));
  const env = (extra: Record<string, string> = {}) => ({
    PORT: String(port),
    OPS_PORT: String(opsPort),
    HOST: '127.0.0.1',
    NATS_URL: opts.natsUrl,
    NATS_PREFIX: opts.prefix,
    LMDB_PATH: lmdbPath,
    NODE_ID: `test-${port}`,
    WORKERS: '2',
    SHUTDOWN_GRACE_MS: '200',
    ...opts.env,
    ...extra,
  });
  const launch = async (extra?: Record<string, string>) => {
    const p = startProcess('data-plane/main.js', env(extra));
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, 200, 30_000);
    return p;
  };
  const node: TestNode = {
    port,
    opsPort,
    lmdbPath,
    proc: await launch(),
    url: (path) => `http://127.0.0.1:${port}${path}`,
    async metric(name) {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.split(' ')[1]) : NaN;
    },
    async restart(extra) {
      node.proc = await launch(extra);
    },
    async stop() {
      await node.proc.stop();
    },
    async kill() {
      node.proc.signal('SIGKILL');
      await node.proc.exited;
    },
    async destroy() {
      await node.proc.stop();
      rmSync(lmdbPath, { recursive: true, force: true });
    },
  };
  if (opts.waitReady !== false) await waitForHttp(node.url('/readyz'), 200, 60_000);
  return node;
}

/** Polls until `host/path` answers with `status` (and `location` when given); returns the ms it took. */
export async function waitForAnswer(port: number, path: string, status: number, location?: string, timeoutMs = 5000): Promise<number> {
  const t0 = performance.now();
  await waitFor(`${path} → ${status} ${location ?? ''}`, async () => {
    const r = await request(port, { path });
    return r.status === status && (location === undefined || r.headers.location === location);
  }, timeoutMs, 5);
  return performance.now() - t0;
}

export interface ApiReply {
  status: number;
  json: Record<string, unknown>;
}

/** A real control plane (dist/control-plane/main.js) for end-to-end tests, with an admin key. */
export interface TestControlPlane {
  port: number;
  proc: RunningProcess;
  /** One call with the admin key; a JSON body when given. */
  call(method: string, path: string, body?: unknown): Promise<ApiReply>;
  /** Starts it again on the same port and database (after `kill` or `stop`), ready. */
  restart(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestControlPlane(opts: {
  databaseUrl: string;
  natsUrl: string;
  prefix: string;
  key: string;
  env?: Record<string, string>;
}): Promise<TestControlPlane> {
  const port = await freePort();
  const launch = async () => {
    const p = startProcess('control-plane/main.js', {
      PORT: String(port), DATABASE_URL: opts.databaseUrl, NATS_URL: opts.natsUrl, NATS_PREFIX: opts.prefix, BOOTSTRAP_ADMIN_KEY: opts.key,
      RATE_LIMIT_BURST: '100000', RATE_LIMIT_PER_SEC: '100000', LOG_LEVEL: 'warn', ...opts.env,
    });
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 200, 60_000);
    return p;
  };
  const cp: TestControlPlane = {
    port,
    proc: await launch(),
    async call(method, path, body) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { authorization: `Bearer ${opts.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async restart() {
      cp.proc = await launch();
    },
    async kill() {
      cp.proc.signal('SIGKILL');
      await cp.proc.exited;
    },
    async stop() {
      await cp.proc.stop();
    },
  };
  return cp;
}
