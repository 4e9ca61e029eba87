/**
 * Garbage in, never a crash and never a redirect anywhere but a stored destination: malformed
 * paths, percent-encoding tricks, dot segments, invalid UTF-8, huge headers and paths, odd hosts
 * and random bytes, sent raw over sockets to a real node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupNatsPrefix, TEST_NATS_URL, testPrefix } from '../../shared/testing/index.js';
import { LinksBucket, linkSource, rawRequest, request, startTestNode, type TestNode } from './harness.js';

const prefix = testPrefix('dpfuzz');
let bucket: LinksBucket;
let node: TestNode;
const destinations = new Set<string>();

beforeAll(async () => {
  bucket = await LinksBucket.open(TEST_NATS_URL, prefix);
  await bucket.putDomain();
  const links = [
    linkSource({ path: 'plain', destinationUrl: 'https://example.com/plain' }),
    linkSource({ path: 'a/b', destinationUrl: 'https://example.com/ab' }),
    linkSource({ path: 'fwd', forwardQuery: true, destinationUrl: 'https://example.com/fwd?x=1' }),
    linkSource({ path: 'caf\u00e9', destinationUrl: 'https://example.com/cafe' }),
    linkSource({ path: 'rules', routing: { rules: [{ when: { language: ['de'] }, url: 'https://example.com/de' }], ab: [{ url: 'https://example.com/a', weight: 1 }, { url: 'https://example.com/b', weight: 1 }] } }),
  ];
  for (const l of links) await bucket.putLink(l);
  for (const d of ['https://example.com/plain', 'https://example.com/ab', 'https://example.com/cafe', 'https://example.com/de', 'https://example.com/a', 'https://example.com/b']) destinations.add(d);
  node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { WORKERS: '2' } });
});

afterAll(async () => {
  await node?.destroy();
  await bucket?.close();
  await cleanupNatsPrefix(prefix);
});

interface Parsed {
  status: number | null;
  location: string | null;
}

function parse(raw: string): Parsed {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  const loc = /\r\nlocation: ([^\r\n]*)/i.exec(raw);
  return { status: m ? Number(m[1]) : null, location: loc ? loc[1]! : null };
}

/** Checks one answer: no 5xx, and any Location is a stored destination (forward_query only appends a query). */
function checkAnswer(what: string, p: Parsed): void {
  if (p.status === null) return; // the connection was refused/closed by the HTTP parser: fine
  expect([301, 302, 400, 404, 405, 410, 414, 431, 505], what).toContain(p.status);
  if (p.location !== null && p.status < 400) {
    const ok = destinations.has(p.location) || p.location.startsWith('https://example.com/fwd?x=1');
    expect(ok, `${what} → ${p.location}`).toBe(true);
    expect(p.location, what).toMatch(/^[\x21-\x7e]+$/);
  }
}

const rawPaths = [
  '/%', '/%Z', '/%ZZ', '/%C3%28', '/%ED%A0%80', '/%F0%28%8C%28', '/%FF%FE', '/%00', '/plain%00', '/%0d%0aLocation:%20https://evil.com',
  '/..', '/../plain', '/./plain', '/plain/..', '/plain/.', '/%2e%2e/plain', '/%2E%2E%2Fplain', '/a/./b', '/a//b', '//plain', '///plain',
  '/a%2Fb', '/a%2fb', '/a\\b', '/plain?', '/plain#frag', '/plain;x=1', '/plain%3Fx=1', '/%2Fplain', '/caf%C3%A9', '/cafe%CC%81', '/caf%E9',
  '/\u00e9', '/fwd?%', '/fwd?a=%ZZ', '/fwd?a=%0d%0aSet-Cookie:x', '/fwd?@evil.com', '/fwd?//evil.com', '/fwd?x=1#evil', '/fwd?qr=1&qr=1',
  '/fwd?' + 'k=v&'.repeat(500), '/' + 'a'.repeat(199), '/' + 'a'.repeat(801), '/' + 'é'.repeat(300), '/' + '%C3%A9'.repeat(300),
  '*', 'plain', 'http://go.example.com/plain', 'https://evil.com/plain', '//evil.com/plain', '/plain HTTP/1.1\r\nX: y',
];

describe('fuzz: malformed paths and hosts', () => {
  it('raw request targets', async () => {
    const answers = await Promise.all(rawPaths.map((path) => rawRequest(node.port, `GET ${path} HTTP/1.1\r\nHost: go.example.com\r\nConnection: close\r\n\r\n`, 500)));
    rawPaths.forEach((path, i) => checkAnswer(`GET ${path}`, parse(answers[i]!)));
  });

  it('odd Host headers', async () => {
    const hosts = ['', ' ', 'GO.EXAMPLE.COM', 'go.example.com:', 'go.example.com:abc', 'go.example.com:99999', '[::1]', '[::1]:80', 'go.example.com..',
      '.', ':', 'go.example.com\x00', 'g\u00f6.example.com', 'xn--g-eha.example.com', 'h'.repeat(300), 'go.example.com/plain', 'go.example.com@evil.com', 'evil.com#go.example.com'];
    await Promise.all(hosts.flatMap((host) => ['/plain', '/nope'].map(async (path) => {
      const raw = await rawRequest(node.port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 'latin1'), 500);
      checkAnswer(`Host ${JSON.stringify(host)} ${path}`, parse(raw));
    })));
    const noHost = parse(await rawRequest(node.port, 'GET /plain HTTP/1.0\r\n\r\n', 500));
    checkAnswer('no Host', noHost);
    const twoHosts = parse(await rawRequest(node.port, 'GET /plain HTTP/1.1\r\nHost: evil.com\r\nHost: go.example.com\r\nConnection: close\r\n\r\n'));
    checkAnswer('two Hosts', twoHosts);
  });

  it('huge headers, long URLs, smuggling attempts', async () => {
    const big = `GET /plain HTTP/1.1\r\nHost: go.example.com\r\n${Array.from({ length: 200 }, (_, i) => `X-Pad-${i}: ${'x'.repeat(500)}`).join('\r\n')}\r\n\r\n`;
    checkAnswer('100 KB of headers', parse(await rawRequest(node.port, big, 500)));
    checkAnswer('1 MB path', parse(await rawRequest(node.port, `GET /${'a'.repeat(1_000_000)} HTTP/1.1\r\nHost: go.example.com\r\n\r\n`)));
    checkAnswer('huge user agent', parse(await rawRequest(node.port, `GET /rules HTTP/1.1\r\nHost: go.example.com\r\nUser-Agent: ${'Mozilla '.repeat(400)}\r\nAccept-Language: ${'de;q=0.5,'.repeat(300)}\r\nConnection: close\r\n\r\n`)));
    checkAnswer('TE + CL', parse(await rawRequest(node.port, 'GET /plain HTTP/1.1\r\nHost: go.example.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /evil HTTP/1.1\r\nHost: evil.com\r\n\r\n')));
    checkAnswer('body on GET', parse(await rawRequest(node.port, 'GET /plain HTTP/1.1\r\nHost: go.example.com\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc')));
    checkAnswer('bad version', parse(await rawRequest(node.port, 'GET /plain HTTP/9.9\r\nHost: go.example.com\r\n\r\n')));
    checkAnswer('lowercase method', parse(await rawRequest(node.port, 'get /plain HTTP/1.1\r\nHost: go.example.com\r\nConnection: close\r\n\r\n')));
    checkAnswer('bare LF', parse(await rawRequest(node.port, 'GET /plain HTTP/1.1\nHost: go.example.com\n\n')));
  });

  it('random bytes and random paths (seeded)', async () => {
    let seed = 1234567;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const alphabet = ['a', 'b', '/', '.', '%', '2', 'e', 'F', 'C', '3', 'A', '9', '?', '&', '=', '#', ';', '\\', 'é', '\u0000', ' ', 'q', 'r', '1', 'p', 'l', 'i', 'n'];
    const paths = Array.from({ length: 1000 }, () => {
      let p = '/';
      const len = 1 + rnd(24);
      for (let j = 0; j < len; j++) p += alphabet[rnd(alphabet.length)];
      return p;
    });
    for (let i = 0; i < paths.length; i += 50) {
      const batch = paths.slice(i, i + 50);
      const answers = await Promise.all(batch.map((p) => rawRequest(node.port, Buffer.from(`GET ${p} HTTP/1.1\r\nHost: go.example.com\r\nConnection: close\r\n\r\n`, 'utf8'), 300)));
      batch.forEach((p, j) => checkAnswer(`GET ${JSON.stringify(p)}`, parse(answers[j]!)));
    }
    const blobs = Array.from({ length: 100 }, () => Buffer.from(Array.from({ length: 1 + rnd(300) }, () => rnd(256))));
    for (const a of await Promise.all(blobs.map((b) => rawRequest(node.port, b, 300)))) checkAnswer('random bytes', parse(a));
  });

  it('the node is intact afterwards: healthy, serving, no 500s', async () => {
    expect((await request(node.port, { path: '/healthz' })).status).toBe(200);
    expect((await request(node.port, { path: '/plain' })).headers.location).toBe('https://example.com/plain');
    expect(await node.metric('linkplane_node_requests_total{status="500"}')).toBe(0);
    expect(node.proc.child.exitCode).toBeNull();
  });
});
