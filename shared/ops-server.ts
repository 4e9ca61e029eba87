/**
 * The operations port of a process (OPS_HOST:OPS_PORT): /metrics, /healthz and /readyz for
 * Prometheus and probes, apart from the traffic port, so metrics are never served on a branded
 * hostname or to API clients. A small node:http server: GET and HEAD only, no other paths.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

export interface OpsAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Path (without query) → its answer. */
export type OpsRoutes = Record<string, () => OpsAnswer | Promise<OpsAnswer>>;

export interface OpsServer {
  /** The port actually bound (OPS_PORT=0 picks a free one). */
  port: number;
  close(): Promise<void>;
}

export class OpsListenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OpsListenError';
  }
}

export const textAnswer = (status: number, body: string): OpsAnswer => ({ status, contentType: 'text/plain; charset=utf-8', body });

function send(res: ServerResponse, head: boolean, a: OpsAnswer, extra: Record<string, string> = {}): void {
  res.writeHead(a.status, {
    'Content-Type': a.contentType,
    'Content-Length': Buffer.byteLength(a.body),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(head ? undefined : a.body);
}

export function startOpsServer(opts: { host: string; port: number; routes: OpsRoutes; log: Logger }): Promise<OpsServer> {
  const { routes, log } = opts;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route === undefined) {
      send(res, head, textAnswer(404, 'Not Found\n'));
      return;
    }
    if (req.method !== 'GET' && !head) {
      send(res, head, textAnswer(405, 'Method Not Allowed\n'), { Allow: 'GET, HEAD' });
      return;
    }
    Promise.resolve()
      .then(route)
      .then(
        (a) => send(res, head, a),
        (err: unknown) => {
          log.error({ err, path: url }, 'ops endpoint failed');
          if (!res.headersSent) send(res, head, textAnswer(500, 'Internal Server Error\n'));
          else res.destroy();
        },
      );
  });
  server.keepAliveTimeout = 65_000; // longer than a scraper's idle keep-alive, so it never races a close
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new OpsListenError(
        `cannot listen on OPS_HOST:OPS_PORT ${opts.host}:${opts.port} (${err.code ?? err.message})` +
          (err.code === 'EADDRINUSE' ? ': another process holds it; processes sharing a host need different OPS_PORTs' : ''),
        { cause: err },
      ));
    });
    server.listen(opts.port, opts.host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : opts.port;
      log.info({ host: opts.host, port }, 'ops port listening (/metrics, /healthz, /readyz)');
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
