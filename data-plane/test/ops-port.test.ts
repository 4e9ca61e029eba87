/**
 * The node's operations port (issue 12, Low: "/metrics is served on every branded hostname"):
 * /metrics, /healthz and /readyz on OPS_PORT, answered by the main thread; /metrics on the public
 * redirect port is an ordinary (reserved, never a link) path: 404. /healthz and /readyz stay on
 * the public port for load balancers that can only probe the traffic port.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, startProcess, TEST_NATS_URL, testPrefix, waitFor } from '../../shared/testing/index.js';
import { DOMAIN, LinksBucket, linkSource, request, startTestNode, type TestNode } from './harness.js';

const prefix = testPrefix('dpops');
let bucket: LinksBucket;
let node: TestNode;

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  await bucket.putLink(linkSource({ path: 'plain' }));
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix });
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('public redirect port', () => {
  it('/metrics is not served on any hostname: 404 like any path without a link', async () => {
    for (const host of [DOMAIN.hostname, 'unknown.example.org', 'localhost', '127.0.0.1']) {
      for (const method of ['GET', 'HEAD']) {
        const r = await request(node.port, { path: '/metrics', host, method });
        expect(r.status, `${method} ${host}`).toBe(404);
        expect(r.body).not.toContain('linkplane_node_');
      }
    }
    expect((await request(node.port, { path: '/metrics?format=prometheus' })).status).toBe(404);
  });

  it('keeps /healthz and /readyz for load balancers', async () => {
    expect(await request(node.port, { path: '/healthz', host: 'anything' })).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await request(node.port, { path: '/readyz' })).toMatchObject({ status: 200, body: 'ready\n' });
  });
});

describe('operations port', () => {
  const ops = (path: string, method = 'GET') => request(node.opsPort, { path, method });

  it('serves the node metrics, counting the public port\'s answers', async () => {
    const before = await node.metric('linkplane_node_requests_total{status="404"}');
    await request(node.port, { path: '/metrics' });
    await request(node.port, { path: '/nope' });
    const m = await ops('/metrics');
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(m.headers['cache-control']).toBe('no-store');
    expect(m.body).toContain(`\nlinkplane_node_info{node_id="test-${node.port}"} 1\n`);
    expect(m.body).toContain('\nlinkplane_node_ready 1\n');
    expect(m.body).toContain('\nlinkplane_node_links 1\n');
    expect(m.body).toContain('\n# TYPE linkplane_node_rule_decode_errors_total counter\nlinkplane_node_rule_decode_errors_total 0\n');
    expect(await node.metric('linkplane_node_requests_total{status="404"}')).toBe(before + 2);
  });

  it('/healthz and /readyz, query ignored; nothing else', async () => {
    expect(await ops('/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await ops('/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
    expect(await ops('/readyz?verbose=1')).toMatchObject({ status: 200, body: 'ready\n' });
    expect(await ops('/plain')).toMatchObject({ status: 404, body: 'Not Found\n' });
    expect(await ops('/')).toMatchObject({ status: 404, body: 'Not Found\n' });
    const post = await ops('/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await ops('/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('OPS_PORT=0 binds a free port and logs it', async () => {
    const other = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { OPS_PORT: '0' } });
    try {
      const line = await waitFor('ops port log line', () => other.proc.logs().find((l) => l.msg === 'ops port listening (/metrics, /healthz, /readyz)'));
      const port = line.port as number;
      expect(port).toBeGreaterThan(0);
      expect(port).not.toBe(other.opsPort);
      const m = await request(port, { path: '/metrics' });
      expect(m.body).toContain(`linkplane_node_info{node_id="test-${other.port}"} 1`);
    } finally {
      await other.destroy();
    }
  });

  it('a second node on the same host with the same OPS_PORT does not start, and says why', async () => {
    const p = startProcess('data-plane/main.js', {
      PORT: '0', HOST: '127.0.0.1', OPS_PORT: String(node.opsPort), OPS_HOST: '127.0.0.1', NATS_URL: TEST_NATS_URL, NATS_PREFIX: prefix,
      NODE_ID: 'ops-clash', WORKERS: '1', CLICK_CAPTURE: 'false', LMDB_PATH: `/tmp/lp-ops-clash-${process.pid}`,
    });
    const exit = await p.exited;
    rmSync(`/tmp/lp-ops-clash-${process.pid}`, { recursive: true, force: true });
    expect(exit.code).toBe(1);
    const out = p.output.join('\n');
    expect(out).toContain(`cannot listen on OPS_HOST:OPS_PORT 127.0.0.1:${node.opsPort} (EADDRINUSE)`);
    expect(out).toContain('processes sharing a host need different OPS_PORTs');
  });
});
