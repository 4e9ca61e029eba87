/**
 * The uWS handler (server.ts) driven in-process through a stand-in for uWS and the store: what it
 * reads per request and what it hands the click ring. The node's own tests (data-plane/test) cover
 * the same path through real sockets.
 */
import { describe, expect, it } from 'vitest';
import type { CompiledLink } from '../shared/index.js';
import { createLogger } from '../shared/index.js';
import { ClickRingReader, ClickRingWriter, createClickRing } from './clicks/click-ring.js';
import { noopClickSink, type ClickSink } from './clicks/click-sink.js';
import type { FactDeps } from './facts.js';
import type { UwsModule } from './native-uws.js';
import { RequestRecorder, SharedState } from './ops/shared-state.js';
import { buildServer } from './server.js';
import type { StoreReader } from './store/reader.js';
import { decodeLink, encodeLink } from './store/value-codec.js';
import { compiled } from './test/fixtures.js';

type Handler = (res: unknown, req: unknown) => void;

/** A store that hands out its values the way lmdb-js does: in one buffer, overwritten by the next read. */
function fakeStore(links: CompiledLink[]) {
  const values = new Map(links.map((l) => [`${l.domain}/${l.path}`, encodeLink(l, Buffer.from(JSON.stringify(l)), 1)]));
  const shared = Buffer.alloc(64 * 1024);
  const idsAsked: boolean[] = [];
  const read = (v: Buffer): Buffer => {
    v.copy(shared);
    return shared.subarray(0, v.length);
  };
  const store = {
    link(key: string, ids = true) {
      idsAsked.push(ids);
      const v = values.get(key);
      return v === undefined ? null : decodeLink(key, read(v), () => null, ids);
    },
    domain() {
      read(Buffer.from('not a domain value, but it overwrites the shared buffer'));
      return null;
    },
  };
  return { store: store as unknown as StoreReader, idsAsked };
}

function serve(links: CompiledLink[], sink: ClickSink) {
  let handler: Handler | null = null;
  const uws = { App: () => ({ any: (_p: string, h: Handler) => (handler = h) }) } as unknown as UwsModule;
  const { store, idsAsked } = fakeStore(links);
  const state = SharedState.create(1);
  state.set('ready', 1);
  let clockReads = 0;
  buildServer({
    uws, store, sink, state, recorder: new RequestRecorder(state, 0), nodeId: 'n1',
    facts: { geo: null, device: null, trustedProxies: [] } as unknown as FactDeps,
    log: createLogger({ name: 'test', level: 'silent' }),
    now: () => {
      clockReads++;
      return 1_700_000_000_000;
    },
  });
  const get = (host: string, url: string, headers: Record<string, string> = {}) => {
    const out: { status: string; headers: [string, string][] } = { status: '', headers: [] };
    const text = (t: string | Uint8Array) => (typeof t === 'string' ? t : Buffer.from(t).toString('latin1'));
    const res = {
      writeStatus: (s: string | Uint8Array) => (out.status = text(s)),
      writeHeader: (k: string | Uint8Array, v: string | Uint8Array) => out.headers.push([text(k), text(v)]),
      end: () => undefined,
      endWithoutBody: () => undefined,
      getRemoteAddress: () => new Uint8Array([81, 2, 69, 160]).buffer,
      onAborted: () => undefined,
      close: () => undefined,
    };
    const all: Record<string, string> = { host, 'user-agent': 'agent', ...headers };
    const req = {
      forEach: (cb: (k: string, v: string) => void) => Object.entries(all).forEach(([k, v]) => cb(k, v)),
      getHeader: (k: string) => all[k] ?? '',
      getMethod: () => 'get',
      getUrl: () => url,
      getQuery: () => '',
    };
    handler!(res, req);
    return out;
  };
  return { get, idsAsked, clockReads: () => clockReads };
}

describe('redirect handler', () => {
  const plain = compiled({ id: 'lnk_01JDPLAIN0000000000000001', workspaceId: 'ws_01JDWORKSPACE00000000001', path: 'plain' });
  const expiring = compiled({ id: 'lnk_01JDEXPIRING00000000000001', path: 'expiring', expiresAt: new Date(1_800_000_000_000) });

  it('with capture on, the ring gets the link and workspace ids from the stored bytes: no id strings are made', () => {
    const ring = createClickRing(64 * 1024);
    const s = serve([plain], new ClickRingWriter(ring));
    expect(s.get('go.example.com', '/plain').status).toBe('302 Found');
    expect(s.get('go.example.com', '/missing').status).toBe('404 Not Found');
    expect(s.get('go.example.com', '/plain').status).toBe('302 Found');
    expect(s.idsAsked).toEqual([false, false, false]);
    const got: string[][] = [];
    new ClickRingReader(ring).drain(10, (c) => got.push([c.click.linkId, c.click.workspaceId, c.click.path, c.click.destination, String(c.click.at)]));
    expect(got).toEqual([
      ['lnk_01JDPLAIN0000000000000001', 'ws_01JDWORKSPACE00000000001', 'plain', plain.destination, '1700000000000'],
      ['lnk_01JDPLAIN0000000000000001', 'ws_01JDWORKSPACE00000000001', 'plain', plain.destination, '1700000000000'],
    ]);
  });

  it('reads the clock only for what uses it: expiry, rules, a click; not for a plain link on a node without capture', () => {
    const off = serve([plain, expiring], noopClickSink);
    off.get('go.example.com', '/plain');
    off.get('go.example.com', '/plain');
    expect(off.clockReads()).toBe(0);
    const d = off.get('go.example.com', '/expiring');
    expect(d.status).toBe('302 Found');
    expect(off.clockReads()).toBe(1);
    // the Cache-Control of an expiring link is bounded by its expiry, computed from the clock
    expect(d.headers.find(([k]) => k === 'Cache-Control')?.[1]).toBe('private, max-age=30');
    const on = serve([plain], new ClickRingWriter(createClickRing(64 * 1024)));
    on.get('go.example.com', '/plain');
    expect(on.clockReads()).toBe(1);
  });
});
