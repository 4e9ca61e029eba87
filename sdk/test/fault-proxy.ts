/**
 * A proxy in front of the real control plane that breaks chosen exchanges the way networks and
 * overloaded servers do, to test the client's retries against the real API's idempotency:
 * forward the request and lose the answer (503 instead, or a dropped connection), or refuse it
 * with 429 + Retry-After before it reaches the API. Every request it sees is recorded.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'pass' }
  /** Forward, then answer this status instead of the API's answer (the API did the work). */
  | { kind: 'lose-answer'; status: number; retryAfter?: string }
  /** Forward, then destroy the connection without answering (the API did the work). */
  | { kind: 'drop-after' }
  /** Answer this status without forwarding. */
  | { kind: 'refuse'; status: number; retryAfter?: string };

export interface Seen {
  method: string;
  url: string;
  idempotencyKey: string | undefined;
  /** The API's status when forwarded. */
  apiStatus: number | null;
}

export interface FaultProxy {
  url: string;
  seen: Seen[];
  /** Faults for the next requests, in order; afterwards every request passes. */
  plan(...faults: Fault[]): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const queue: Fault[] = [];
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const fault = queue.shift() ?? { kind: 'pass' };
    const key = req.headers['idempotency-key'];
    const entry: Seen = { method: req.method!, url: req.url!, idempotencyKey: typeof key === 'string' ? key : undefined, apiStatus: null };
    seen.push(entry);
    if (fault.kind === 'refuse') {
      req.resume();
      res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(JSON.stringify({ error: { code: fault.status === 429 ? 'rate_limited' : 'service_unavailable', message: 'injected by the test proxy' } }));
      return;
    }
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ures) => {
      entry.apiStatus = ures.statusCode ?? null;
      if (fault.kind === 'pass') {
        res.writeHead(ures.statusCode!, ures.headers);
        ures.pipe(res);
        return;
      }
      ures.resume();
      ures.on('end', () => {
        if (fault.kind === 'drop-after') return void res.socket?.destroy();
        res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) });
        res.end(JSON.stringify({ error: { code: 'service_unavailable', message: 'injected by the test proxy' } }));
      });
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    plan: (...faults) => void queue.push(...faults),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
