/**
 * Request framing on the redirect node, with raw bytes on raw sockets against a real node (issue
 * 12, "Redirect node HTTP parsing"): ambiguous framing is answered 400 and the connection closed,
 * and a request pipelined behind it is never served (no desync). What uWS 20.30 refuses before our
 * handler sees the request is pinned here exactly as it happens today (docs/redirect-node.md: "HTTP parsing").
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix } from '../../shared/testing/index.js';
import { DOMAIN, LinksBucket, linkSource, startTestNode, type TestNode } from './harness.js';

const prefix = testPrefix('dphard');
let bucket: LinksBucket;
let node: TestNode;

const HOST = DOMAIN.hostname;
const GOOD = `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const NEXT = `GET /second HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
/** The refusal, byte for byte. */
const REFUSAL = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\n' +
  'Content-Length: 13\r\n\r\nBad Request\r\n';

interface Exchange {
  /** Everything the node sent, latin1. */
  received: string;
  /** Whether the node closed the connection within the wait. */
  closed: boolean;
  closedAfterMs: number;
}

/** Writes `bytes` on a fresh connection and reads until the node closes it or `waitMs` passes. */
function exchange(bytes: string, waitMs = 2000): Promise<Exchange> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = connect(node.port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ received, closed: false, closedAfterMs: NaN });
    }, waitMs);
    sock.on('data', (d) => (received += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ received, closed: true, closedAfterMs: performance.now() - t0 });
    });
    sock.write(Buffer.from(bytes, 'latin1'));
  });
}

const withoutDate = (s: string) => s.replace(/\r\nDate: [^\r]*/g, '');

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  await bucket.putLink(linkSource({ path: 'plain' }));
  await bucket.putLink(linkSource({ path: 'second', destinationUrl: 'https://example.com/second' }));
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix });
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

describe('ambiguous framing: 400, connection closed', () => {
  const refused: [name: string, request: string][] = [
    ['two Host headers', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nHost: evil.example.net\r\n\r\n`],
    ['two identical Host headers', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nHost: ${HOST}\r\n\r\n`],
    ['two different Content-Length headers', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n`],
    ['Transfer-Encoding: gzip', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip\r\n\r\n`],
    ['Transfer-Encoding: gzip, chunked', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n`],
    ['Transfer-Encoding: identity', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: identity\r\n\r\n`],
    ['two Transfer-Encoding: chunked headers', `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`],
    ['a POST with two different Content-Length headers (not a 405 kept alive)', `POST /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc`],
    ['/healthz with two Host headers', `GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`],
  ];
  for (const [name, request] of refused) {
    it(name, async () => {
      const r = await exchange(request);
      expect(r.received).toBe(REFUSAL);
      expect(r.closed).toBe(true);
      expect(r.closedAfterMs).toBeLessThan(500);
    });
  }

  it('a request pipelined behind a refused one is never served: the node drops the connection', async () => {
    const before = await node.metric('linkplane_node_requests_total{status="302"}');
    // in one segment: uWS sees the second request while the refusal is unfinished and closes the
    // connection before flushing it (uWS 20.30); either way nothing after the refusal is answered
    for (const bad of [
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n`,
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.example\r\n\r\n`,
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: gzip\r\n\r\n`,
    ]) {
      const r = await exchange(bad + NEXT + NEXT);
      expect(r.received).toBe('');
      expect(r.closed).toBe(true);
    }
    expect(await node.metric('linkplane_node_requests_total{status="302"}')).toBe(before);
  });

  it('a request sent after the refusal arrived finds the connection closed', async () => {
    const sock = connect(node.port, '127.0.0.1');
    let received = '';
    sock.on('data', (d) => (received += d.toString('latin1')));
    sock.on('error', () => undefined);
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(`GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nHost: x\r\n\r\n`);
    await closed;
    expect(received).toBe(REFUSAL);
    expect(sock.write(NEXT)).toBe(false);
  });

  it('refusals are counted as 400s', async () => {
    const before = await node.metric('linkplane_node_requests_total{status="400"}');
    await exchange(`GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nHost: x\r\n\r\n`);
    expect(await node.metric('linkplane_node_requests_total{status="400"}')).toBe(before + 1);
  });
});

describe('unambiguous framing is served', () => {
  it('one Host, no body; then a pipelined second request on the same connection', async () => {
    const r = await exchange(GOOD + NEXT, 500);
    const answers = withoutDate(r.received).split('HTTP/1.1 ').slice(1);
    expect(answers.map((a) => a.slice(0, 3))).toEqual(['302', '302']);
    expect(answers[1]).toContain('Location: https://example.com/second\r\n');
    expect(r.closed).toBe(false);
  });

  it('two identical Content-Length headers (RFC 9110 §8.6 allows them)', async () => {
    const r = await exchange(`GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n${NEXT}`, 500);
    expect(withoutDate(r.received).split('HTTP/1.1 ').slice(1).map((a) => a.slice(0, 3))).toEqual(['302', '302']);
  });

  it('Transfer-Encoding: chunked (any case): the chunked body is read, the next request served', async () => {
    for (const te of ['chunked', 'Chunked']) {
      const r = await exchange(`GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: ${te}\r\n\r\n0\r\n\r\n${NEXT}`, 500);
      expect(withoutDate(r.received).split('HTTP/1.1 ').slice(1).map((a) => a.slice(0, 3))).toEqual(['302', '302']);
    }
  });

  it('48 header lines (Host + 47) are served', async () => {
    const extra = Array.from({ length: 47 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const r = await exchange(`GET /plain HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\n`, 500);
    expect(r.received.startsWith('HTTP/1.1 302 Found\r\n')).toBe(true);
  });
});

describe('what uWS 20.30 closes or drops itself (pinned; docs/redirect-node.md "HTTP parsing")', () => {
  // Transfer-Encoding with Content-Length is also refused by the node's own check; uWS fails the
  // body and closes the connection in the same turn, before anything written is flushed
  it('Transfer-Encoding with Content-Length, malformed Content-Length: closed at once, nothing answered, nothing served', async () => {
    const before = await node.metric('linkplane_node_requests_total{status="302"}');
    for (const bad of [
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`,
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 0, 0\r\n\r\n`,
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: +0\r\n\r\n`,
    ]) {
      for (const bytes of [bad, bad + NEXT]) {
        const r = await exchange(bytes);
        expect(r.received).toBe('');
        expect(r.closed).toBe(true);
        expect(r.closedAfterMs).toBeLessThan(500);
      }
    }
    expect(await node.metric('linkplane_node_requests_total{status="302"}')).toBe(before);
  });

  // uWS 20.30 answers none of these and serves nothing after them: the connection stays silent
  // until uWS's idle timeout (10 s, checked every 4 s) closes it. An L7 proxy in front answers
  // them (deploy/README.md); the node cannot, as its handler is never called.
  it('HTTP/1.0 (with or without Host), HTTP/1.1 without Host, 49+ header lines, bare-LF line ends: no answer, closed after the idle timeout', async () => {
    const before = await node.metric('linkplane_node_requests_total{status="302"}');
    const many = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
    const silent = [
      `GET /plain HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`,
      'GET /plain HTTP/1.0\r\n\r\n',
      'GET /plain HTTP/1.1\r\n\r\n',
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\n${many(48)}\r\n`,
      `GET /plain HTTP/1.1\r\nHost: ${HOST}\r\n${many(60)}\r\n${NEXT}`,
      `GET /plain HTTP/1.1\nHost: ${HOST}\n\n`,
    ];
    const results = await Promise.all(silent.map((bytes) => exchange(bytes, 20_000)));
    for (const r of results) {
      expect(r.received).toBe('');
      expect(r.closed).toBe(true);
      expect(r.closedAfterMs).toBeGreaterThan(7_000);
      expect(r.closedAfterMs).toBeLessThan(16_000);
    }
    expect(await node.metric('linkplane_node_requests_total{status="302"}')).toBe(before);
  }, 30_000);
});
