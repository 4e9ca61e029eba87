/**
 * Tracing (issue 16, docs/operations.md "Tracing"): real control-plane processes, a real webhook
 * receiver and an in-process OTLP/HTTP receiver. With export on, one trace runs from the API call
 * (child of the caller's traceparent) through a DB call, the outbox relay (traceparent in the NATS
 * message headers) and the fan-out to the webhook delivery, whose request carries `traceparent`
 * naming the delivery span; a job callback continues the trace of the request that created the
 * job; a garbage traceparent is ignored (2xx, a new trace). With export off the caller's
 * traceparent still reaches the receiver, unchanged, and nothing is exported.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  cleanupNatsPrefix, createTestDatabase, freePort, startProcess, testPrefix, TEST_NATS_URL, waitFor, waitForHttp,
  type RunningProcess, type TestDatabase,
} from '../../shared/testing/index.js';
import { natsNames } from '../../shared/index.js';
import { startReceiver, type ReceivedRequest, type Receiver } from './webhooks-helpers.js';

const KEY = 'lp_tracing_test_admin_key_000000000001';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
}
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;

/** An OTLP/HTTP receiver: POST /v1/traces with the JSON encoding the exporter sends. */
async function startOtlpReceiver(): Promise<{ url: string; spans: OtlpSpan[]; services: Set<string>; posts: number; close: () => Promise<void> }> {
  const r = { url: '', spans: [] as OtlpSpan[], services: new Set<string>(), posts: 0, close: async () => undefined as void };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.posts++;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as {
        resourceSpans: { resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const rs of body.resourceSpans) {
        const svc = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
        if (typeof svc === 'string') r.services.add(svc);
        for (const ss of rs.scopeSpans) r.spans.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return r;
}

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
const newTraceparent = () => ({ traceId: hex(32), spanId: hex(16) });
const tp = (t: { traceId: string; spanId: string }) => `00-${t.traceId}-${t.spanId}-01`;
const TP = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;

async function startControlPlane(db: TestDatabase, prefix: string, extra: Record<string, string>) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cp = startProcess('control-plane/main.js', {
    PORT: String(port), OPS_PORT: String(await freePort()), DATABASE_URL: db.url, NATS_PREFIX: prefix, BOOTSTRAP_ADMIN_KEY: KEY,
    WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50', JOB_POLL_MS: '50', RELAY_POLL_MS: '50', CLICK_INGEST: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: '', ...extra,
  });
  await waitForHttp(`${base}/readyz`, 200, 60_000);
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, text, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  return { cp, api };
}

/** The first request to `path` of event `type` whose data has `field` = `value` (a link's path, a job's id). */
async function hookFor(receiver: Receiver, path: string, type: string, field: string, value: string): Promise<ReceivedRequest> {
  let found: ReceivedRequest | undefined;
  await waitFor(`${type} with ${field} ${value}`, async () => {
    found = receiver.requests.find((r) => {
      const e = JSON.parse(r.body.toString()) as { type: string; data: Record<string, unknown> };
      return r.path === path && e.type === type && e.data[field] === value;
    });
    return found !== undefined;
  }, 30_000, 50);
  return found!;
}

describe('tracing, export on (OTLP receiver)', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let receiver: Receiver;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: Awaited<ReturnType<typeof startControlPlane>>['api'];
  let nc: NatsConnection;
  const kvMessages: Msg[] = [];
  const prefix = testPrefix('tracing');
  const origin = () => new URL(receiver.url).origin;

  beforeAll(async () => {
    db = await createTestDatabase('tracing_on');
    receiver = await startReceiver();
    otlp = await startOtlpReceiver();
    ({ cp, api } = await startControlPlane(db, prefix, { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'cp-under-test', KEY_CACHE_TTL_MS: '0' }));
    nc = await connect({ servers: TEST_NATS_URL });
    nc.subscribe(`${natsNames(prefix).linksKeySubjectPrefix}>`, { callback: (_err, m) => void kvMessages.push(m) });
    await nc.flush();
    expect((await api('POST', '/v1/webhooks/endpoints', { url: `${origin()}/hook` })).status).toBe(201);
    expect((await api('POST', '/v1/domains', { hostname: 'go.trace.example.com' })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await nc?.close();
    await cp?.stop();
    await receiver?.close();
    await otlp?.close();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
  });

  it('one trace from the API call through a DB call, the relay and the fan-out to the webhook delivery', async () => {
    const caller = newTraceparent();
    const created = await api('POST', '/v1/links', { domain: 'go.trace.example.com', path: 'traced', destination_url: 'https://example.org/' }, { traceparent: tp(caller) });
    expect(created.status, created.text).toBe(201);

    // the receiver gets the caller's trace id; the parent id names the delivery span
    const hook = await hookFor(receiver, '/hook', 'link.created', 'path', 'traced');
    const sent = TP.exec(String(hook.headers.traceparent));
    expect(sent, String(hook.headers.traceparent)).not.toBeNull();
    expect(sent![1]).toBe(caller.traceId);
    expect(sent![2]).not.toBe(caller.spanId);

    const inTrace = () => otlp.spans.filter((s) => s.traceId === caller.traceId);
    await waitFor('spans exported', async () => {
      const names = new Set(inTrace().map((s) => s.name));
      return ['POST /v1/links', 'outbox publish', 'webhook fan-out', 'webhook deliver'].every((n) => names.has(n)) && inTrace().some((s) => s.kind === CLIENT && attr(s, 'db.system.name') === 'postgresql');
    }, 30_000, 100);
    expect(otlp.services).toEqual(new Set(['cp-under-test']));
    const spans = inTrace();
    const byName = (n: string) => spans.filter((s) => s.name === n);

    const request = byName('POST /v1/links');
    expect(request).toHaveLength(1);
    const req = request[0]!;
    expect(req.kind).toBe(SERVER);
    expect(req.parentSpanId).toBe(caller.spanId); // child of the client's span
    expect(attr(req, 'http.route')).toBe('/v1/links');
    expect(attr(req, 'http.request.method')).toBe('POST');
    expect(Number(attr(req, 'http.response.status_code'))).toBe(201);

    // DB calls made while serving the request are its children; no parameters recorded
    const db = spans.filter((s) => s.kind === CLIENT && attr(s, 'db.system.name') === 'postgresql');
    expect(db.length).toBeGreaterThan(0);
    for (const s of db) expect(s.parentSpanId).toBe(req.spanId);
    // a create is one write statement (link, outbox, event, audit, idempotency: links/link-write-one.ts, issue 17)
    expect(db.map((s) => s.name)).toContain('link_create_one');
    expect(db.map((s) => s.name)).toContain('api_key_by_secret'); // auth runs inside the request's context too (KEY_CACHE_TTL_MS=0: the key is read, not cached)
    for (const s of db) expect(s.attributes?.map((a) => a.key).sort()).toEqual(['db.namespace', 'db.operation.name', 'db.query.summary', 'db.system.name']);

    // the relay's publish continues the request; the NATS message carries the publish span's id
    const publish = byName('outbox publish');
    expect(publish.length).toBeGreaterThanOrEqual(1);
    expect(publish[0]!.kind).toBe(PRODUCER);
    expect(publish[0]!.parentSpanId).toBe(req.spanId);
    const msg = kvMessages.find((m) => m.headers?.get('traceparent')?.includes(caller.traceId));
    expect(msg, 'a KV message with the trace').toBeDefined();
    expect(TP.exec(msg!.headers!.get('traceparent'))![2]).toBe(publish[0]!.spanId);

    // fan-out and delivery hang off the request that wrote the event
    expect(byName('webhook fan-out')[0]!.parentSpanId).toBe(req.spanId);
    const deliver = byName('webhook deliver');
    expect(deliver).toHaveLength(1);
    expect(deliver[0]!.kind).toBe(CLIENT);
    expect(deliver[0]!.parentSpanId).toBe(req.spanId);
    expect(deliver[0]!.spanId).toBe(sent![2]);
    expect(Number(attr(deliver[0]!, 'http.response.status_code'))).toBe(200);
    expect(attr(deliver[0]!, 'linkplane.event.type')).toBe('link.created');
  }, 60_000);

  it('a garbage traceparent is ignored: 2xx and a fresh trace', async () => {
    const created = await api('POST', '/v1/links', { domain: 'go.trace.example.com', path: 'garbage', destination_url: 'https://example.org/' }, { traceparent: 'garbage-00-xyz' });
    expect(created.status, created.text).toBe(201);
    const hook = await hookFor(receiver, '/hook', 'link.created', 'path', 'garbage');
    const sent = TP.exec(String(hook.headers.traceparent));
    expect(sent).not.toBeNull();
    let root: OtlpSpan | undefined;
    await waitFor('the new trace exported', async () => {
      root = otlp.spans.find((s) => s.traceId === sent![1] && s.name === 'POST /v1/links');
      return root !== undefined;
    }, 30_000, 100);
    expect(root!.parentSpanId ?? '').toBe('');
  }, 60_000);

  it('a job callback (and the job event) continue the trace of the request that created the job', async () => {
    const caller = newTraceparent();
    const job = await api('POST', '/v1/links/bulk', {
      operation: 'create', callback_url: `${origin()}/callback`,
      items: [{ domain: 'go.trace.example.com', path: 'bulk-1', destination_url: 'https://example.org/1' }],
    }, { traceparent: tp(caller) });
    expect(job.status, job.text).toBe(202);
    const jobId = String(job.json.job_id ?? job.json.id);
    const callback = await hookFor(receiver, '/callback', 'job.succeeded', 'id', jobId);
    expect(TP.exec(String(callback.headers.traceparent))?.[1]).toBe(caller.traceId);
    const event = await hookFor(receiver, '/hook', 'job.succeeded', 'id', jobId);
    expect(TP.exec(String(event.headers.traceparent))?.[1]).toBe(caller.traceId);
    await waitFor('job callback span', async () => otlp.spans.some((s) => s.traceId === caller.traceId && s.name === 'job callback'), 30_000, 100);
    const request = otlp.spans.find((s) => s.traceId === caller.traceId && s.name === 'POST /v1/links/bulk');
    expect(request?.parentSpanId).toBe(caller.spanId);
  }, 60_000);
});

describe('tracing, export off', () => {
  let db: TestDatabase;
  let cp: RunningProcess;
  let receiver: Receiver;
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let api: Awaited<ReturnType<typeof startControlPlane>>['api'];
  const prefix = testPrefix('tracing_off');

  beforeAll(async () => {
    db = await createTestDatabase('tracing_off');
    receiver = await startReceiver();
    otlp = await startOtlpReceiver(); // listening, but not configured: it must see nothing
    ({ cp, api } = await startControlPlane(db, prefix, {}));
    expect((await api('POST', '/v1/webhooks/endpoints', { url: `${new URL(receiver.url).origin}/hook` })).status).toBe(201);
    expect((await api('POST', '/v1/domains', { hostname: 'go.off.example.com' })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await cp?.stop();
    await receiver?.close();
    await otlp?.close();
    await db?.drop();
    await cleanupNatsPrefix(prefix);
  });

  it("passes the caller's traceparent on unchanged to the webhook, and a request without one sends none", async () => {
    const caller = tp(newTraceparent());
    expect((await api('POST', '/v1/links', { domain: 'go.off.example.com', path: 'carried', destination_url: 'https://example.org/' }, { traceparent: caller })).status).toBe(201);
    expect((await api('POST', '/v1/links', { domain: 'go.off.example.com', path: 'plain', destination_url: 'https://example.org/' })).status).toBe(201);
    const carried = await hookFor(receiver, '/hook', 'link.created', 'path', 'carried');
    expect(carried.headers.traceparent).toBe(caller);
    const plain = await hookFor(receiver, '/hook', 'link.created', 'path', 'plain');
    expect(plain.headers.traceparent).toBeUndefined();
    expect(otlp.posts).toBe(0);
    expect(cp.logs().some((l) => String(l.msg).includes('tracing: exporting'))).toBe(false);
  }, 60_000);
});
