/** Test helpers for webhooks: real loopback receivers, isolated workspaces, events. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { WebhookEventType } from '../../shared/index.js';
import { withTx } from '../db/tx.js';
import { emitEvents } from '../events/emit.js';
import { newId, uuidToId } from '../ids.js';
import { createKey } from '../keys/key-store.js';
import type { Harness } from './harness.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export type Handler = (req: ReceivedRequest, res: ServerResponse, n: number) => void | Promise<void>;

export interface Receiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** TCP connections accepted so far. */
  connections: number;
  setHandler(h: Handler): void;
  close(): Promise<void>;
}

export const ok: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('ok');
};

/** A node:http server on 127.0.0.1 that records every request (raw body bytes) and answers with `handler`. */
export async function startReceiver(handler: Handler = ok): Promise<Receiver> {
  let current = handler;
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const r: Receiver = {
    url: '',
    port: 0,
    requests,
    connections: 0,
    setHandler: (h) => (current = h),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() };
      requests.push(rec);
      void Promise.resolve(current(rec, res, requests.length)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s: Socket) => {
    r.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  return r;
}

/** A workspace of its own with an admin key (isolates tests sharing one database and workers). */
export async function newWorkspace(h: Harness, label: string): Promise<{ workspaceId: string; key: string }> {
  const workspaceId = newId('ws');
  await h.pool.query('INSERT INTO workspaces (id, name) VALUES ($1, $2)', [workspaceId, `${label}-${workspaceId}`]);
  const { secret } = await createKey(h.pool, { workspaceId, name: label, role: 'admin' });
  return { workspaceId, key: secret };
}

/** Writes `n` events to the outbox the way producers do (emitEvents in a transaction); their ids as clients see them (`evt_…`). */
export async function emit(h: Harness, workspaceId: string, n: number, type: WebhookEventType = 'click.created', data: (i: number) => unknown = (i) => ({ i })): Promise<string[]> {
  const ids = await withTx(h.pool, (tx) => emitEvents(tx, Array.from({ length: n }, (_, i) => ({ workspaceId, type, data: data(i) }))));
  return ids.map((id) => uuidToId('evt', id));
}

export interface DeliveryState {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
}

export async function deliveriesOf(h: Harness, endpointId: string): Promise<DeliveryState[]> {
  const { rows } = await h.pool.query<DeliveryState>(
    'SELECT id, linkplane_public_id(\'evt\', event_id) AS event_id, status, attempts, last_status_code, last_error FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id',
    [endpointId],
  );
  return rows;
}

export async function attemptsOf(h: Harness, deliveryId: string): Promise<{ attempt: number; status_code: number | null; error: string | null; finished: boolean; duration_ms: number | null }[]> {
  const { rows } = await h.pool.query(
    'SELECT attempt, status_code, error, finished_at IS NOT NULL AS finished, duration_ms FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt',
    [deliveryId],
  );
  return rows;
}
