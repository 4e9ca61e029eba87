/** Single HTTP requests for setup and checks (not for load): any Host, raw path, no redirects followed. */
import { request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpGet(opts: { port: number; path: string; host?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: 'GET',
        headers: { ...(opts.host ? { host: opts.host } : {}), ...opts.headers },
        agent: false,
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until GET answers `status`; fails early when `alive()` says the server died. */
export async function waitForAnswer(opts: {
  port: number;
  path: string;
  host?: string;
  status: number;
  timeoutMs: number;
  everyMs?: number;
  alive?: () => boolean;
}): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = '';
  for (;;) {
    if (opts.alive && !opts.alive()) throw new Error(`server on port ${opts.port} exited while waiting for ${opts.path} → ${opts.status}`);
    try {
      const r = await httpGet({ port: opts.port, path: opts.path, host: opts.host, timeoutMs: 2000 });
      if (r.status === opts.status) return;
      last = `got ${r.status}`;
    } catch (err) {
      last = String(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.path} → ${opts.status} (${last})`);
    await sleep(opts.everyMs ?? 100);
  }
}

/** Value of an unlabelled Prometheus sample (`name value`), NaN when absent. */
export function metricValue(text: string, name: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  }
  return NaN;
}

/** The /metrics text of a plane's operations port (OPS_PORT). */
export async function fetchMetrics(port: number): Promise<string> {
  return (await httpGet({ port, path: '/metrics' })).body;
}
