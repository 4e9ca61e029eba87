/**
 * The uWS wiring of one worker thread: gather facts, decide (resolve.ts), answer (respond.ts),
 * then hand the click to the sink. Everything runs synchronously inside the handler, so a request
 * is answered in the tick it arrived in; a failure answers 500 (never a redirect) and never
 * escapes into uWS (which would abort the thread).
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { requestHost, requestPathToLinkPath, storeKey, type Logger } from '../shared/index.js';
import type { ClickSink } from './clicks/click-sink.js';
import { gatherFacts, plainFacts, type FactDeps, type HeaderSource } from './facts.js';
import { framingProblem, refuse, seen } from './http-framing.js';
import { ipFromBytes, type Ip } from './ip.js';
import type { UwsModule } from './native-uws.js';
import { caughtUp, readiness } from './ops/readiness.js';
import { GAUGES, type RequestRecorder, type SharedState } from './ops/shared-state.js';
import { echoableRequestId } from './request-id.js';
import { resolve, type Decision } from './resolve.js';
import type { LinkRecord } from './link-record.js';
import { respond, respondText } from './respond.js';
import type { StoreReader } from './store/reader.js';

export interface ServerDeps {
  uws: UwsModule;
  store: StoreReader;
  facts: FactDeps;
  sink: ClickSink;
  state: SharedState;
  recorder: RequestRecorder;
  nodeId: string;
  log: Logger;
  /** Clock (tests pin it). */
  now?: () => number;
  /** ACCESS_LOG_SAMPLE: the share of requests logged as one `request` line (0, the default: none). */
  accessLogSample?: number;
  /** The sampler (tests pin it): a request is logged when it returns < accessLogSample. */
  random?: () => number;
}

export interface RedirectServer {
  app: TemplatedApp;
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting connections, lets open ones finish for `graceMs`, then closes everything. */
  drain(graceMs: number): Promise<void>;
}

const ALLOW = { Allow: 'GET, HEAD' };
const DRAINING = GAUGES.indexOf('draining');
/** A link this node lacks while its replica is not caught up: retry soon rather than cache a 404. */
const NOT_SYNCED = { 'Retry-After': '1' };
const NOT_SYNCED_BODY = 'Service Unavailable: this node has not caught up with its links yet; retry\n';

export function buildServer(deps: ServerDeps): RedirectServer {
  const { uws, store, state, recorder, sink, log } = deps;
  // the gauge read on every request, by its slot (`state.get(name)` looks the name up each time)
  const slots = state.slots;
  const now = deps.now ?? Date.now;
  const trustsProxies = deps.facts.trustedProxies.length > 0;
  // the current request's peer address, read from uWS at most once (handlers run synchronously) as
  // raw bytes (cheaper than uWS's text form: 0.84 vs 1.34 µs measured); rules that need the client
  // IP parse them, click capture copies them into its ring
  let peerBytes: Uint8Array | null = null;
  let peer: Ip | null | undefined;
  let peerRes: HttpResponse | null = null;
  const peerBytesOf = (): Uint8Array => (peerBytes ??= new Uint8Array(peerRes!.getRemoteAddress()));
  const peerOf = (): Ip | null => (peer === undefined ? (peer = ipFromBytes(peerBytesOf())) : peer);
  // the headers rules read were kept by framingProblem's pass over them (`seen`): asking uWS again
  // costs a native call and a scan of the headers each (two per request of a geo + device + A/B link)
  let currentReq: HttpRequest | null = null;
  const ruleHeaders: HeaderSource = {
    getHeader(key) {
      switch (key) {
        case 'user-agent':
          return seen.userAgent;
        case 'x-forwarded-for':
          return seen.forwardedFor;
        case 'accept-language':
          return seen.acceptLanguage;
        default:
          return currentReq!.getHeader(key);
      }
    },
  };
  const app = uws.App();
  let listenSocket: us_listen_socket | null = null;
  const sample = deps.accessLogSample ?? 0;
  const random = deps.random ?? Math.random;
  // a link's ids as strings are only needed for access log lines: the click ring copies them from
  // the stored bytes (`decided`)
  const withIds = sample > 0;
  // the link `decide` read (its stored bytes are valid until the store's next read: the click is
  // written in the same request, with no lookup in between)
  let decided: LinkRecord | null = null;

  /**
   * One sampled request's line (ACCESS_LOG_SAMPLE): read before the answer (the request must not
   * be read after it), logged after. Off by default; when off, a request pays one comparison.
   */
  function accessLog(method: string, url: string, status: number, d: Decision | null, requestId: string, t0: number): void {
    // `us` is the time since the handler began (timed when the line is sampled)
    log.info({
      method,
      host: seen.host,
      path: url,
      status,
      location: d?.kind === 'redirect' ? d.location : undefined,
      link_id: d?.kind === 'redirect' ? d.click.linkId : undefined,
      request_id: requestId || undefined,
      us: Math.round((performance.now() - t0) * 1000),
    }, 'request');
  }

  function decide(req: HttpRequest, url: string): Decision {
    const host = requestHost(seen.host); // read by framingProblem's pass over the headers
    const path = requestPathToLinkPath(url);
    const link = path !== null && host.length > 0 ? store.link(storeKey(host, path), withIds) : null;
    decided = link;
    // the query matters to rules, forward_query and a click's QR flag: not read from uWS otherwise
    const query = link !== null && (link.routing !== null || link.forwardQuery || sink.enabled) ? req.getQuery() ?? '' : '';
    let facts;
    if (link?.routing) {
      currentReq = req;
      facts = gatherFacts(ruleHeaders, peerOf, query, link.routing.needs, deps.facts);
    } else {
      facts = plainFacts(query);
    }
    // the clock is read for what uses it: expiry, rules (time windows) and the click's time. A plain
    // link without expiry on a node without capture does not need it (its click facts are not read)
    const at = link !== null && (sink.enabled || link.expiresAt !== null || link.routing !== null) ? now() : 0;
    const d = resolve({ host, path, link, domain: null }, facts, at);
    // fallbacks need the domain's settings: looked up only when the answer is not a redirect
    return d.kind === 'redirect' ? d : resolve({ host, path, link, domain: store.domain(host) }, facts, at);
  }

  /** Probes for load balancers on the traffic port; /metrics is on the operations port only. */
  function probe(res: HttpResponse, url: string, head: boolean, close: boolean, rid: string): number {
    if (url === '/healthz') {
      respondText(res, 200, 'ok\n', head, close, undefined, rid);
      return 200;
    }
    const r = readiness(state);
    respondText(res, r.ready ? 200 : 503, r.text, head, close, undefined, rid);
    return r.ready ? 200 : 503;
  }

  app.any('/*', (res, req) => {
    const logged = sample > 0 && random() < sample;
    // the clock is read for the access log's line and for the timed sample of decisions only
    const timed = recorder.timed();
    const t0 = timed || logged ? performance.now() : 0;
    peer = undefined;
    peerBytes = null;
    peerRes = res;
    const close = slots[DRAINING] === 1;
    let answered = false;
    try {
      // before anything else (a 405 kept alive would desync too): ambiguous framing → 400, closed
      if (framingProblem(req) !== null) {
        answered = true;
        refuse(res);
        recorder.status(400);
        return;
      }
      const method = req.getMethod();
      const url = req.getUrl();
      const head = method === 'head';
      const rid = seen.requestId.length > 0 && echoableRequestId(seen.requestId) ? seen.requestId : '';
      if (method !== 'get' && !head) {
        answered = true;
        respondText(res, 405, 'Method Not Allowed\n', head, close, ALLOW, rid);
        recorder.status(405);
        if (logged) accessLog(method, url, 405, null, rid, t0);
        return;
      }
      if (url === '/healthz' || url === '/readyz') {
        answered = true;
        const status = probe(res, url, head, close, rid);
        recorder.status(status);
        if (logged) accessLog(method, url, status, null, rid, t0);
        return;
      }
      const d = decide(req, url);
      if (timed) recorder.latency(performance.now() - t0);
      if (d.kind === 'not_found' && !caughtUp(state)) {
        answered = true;
        respondText(res, 503, NOT_SYNCED_BODY, head, close, NOT_SYNCED, rid);
        recorder.status(503);
        if (logged) accessLog(method, url, 503, null, rid, t0);
        return;
      }
      // copied before answering: the request and response must not be read after the answer
      const capture = d.kind === 'redirect' && !head && sink.enabled;
      let visitPeer: Uint8Array | null = null;
      let forwardedFor = '';
      let userAgent = '';
      let referer = '';
      let acceptLanguage = '';
      if (capture) {
        visitPeer = peerBytesOf();
        if (trustsProxies) forwardedFor = seen.forwardedFor;
        userAgent = seen.userAgent;
        referer = seen.referer;
        acceptLanguage = seen.acceptLanguage;
      }
      answered = true;
      respond(res, d, head, close, rid);
      recorder.status(d.status);
      if (capture && d.kind === 'redirect') sink.click(d.click, visitPeer, forwardedFor, userAgent, referer, acceptLanguage, decided);
      if (logged) accessLog(method, url, d.status, d, rid, t0);
    } catch (err) {
      recorder.status(500);
      log.error({ err, requestId: safeHeader(req, 'x-request-id') }, 'request failed');
      if (!answered) {
        try {
          respondText(res, 500, 'Internal Server Error\n', false, true);
          return;
        } catch {
          // fall through to closing the connection
        }
      }
      try {
        res.close();
      } catch {
        // already closed
      }
    }
  });

  return {
    app,
    listen(host, port) {
      return new Promise((resolveListen, reject) => {
        app.listen(host, port, (sock) => {
          if (!sock) {
            reject(new Error(`cannot listen on ${host}:${port}`));
            return;
          }
          listenSocket = sock;
          resolveListen(uws.us_socket_local_port(sock as unknown as Parameters<UwsModule['us_socket_local_port']>[0]));
        });
      });
    },
    async drain(graceMs) {
      if (listenSocket) {
        uws.us_listen_socket_close(listenSocket);
        listenSocket = null;
      }
      if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs));
      // closes the remaining (keep-alive) connections; present in the binary, missing from its typings
      (app as TemplatedApp & { close(): void }).close();
    },
  };
}

function safeHeader(req: HttpRequest, name: string): string | undefined {
  try {
    return req.getHeader(name) || undefined;
  } catch {
    return undefined;
  }
}
