/**
 * Errors raised before a route runs — by Node's HTTP parser (a control byte in a header, headers or
 * a request line past the 16 KB limit, headers that never finish), by Node's own checks (an
 * `Expect` it does not know, a missing `Host`) and by Fastify's router (bad percent-encoding, an
 * over-long path segment) — answered with the same JSON error shape and catalog codes as every
 * other error. What the parser refused is answered on the raw socket, which is then closed: after
 * a parse error the connection's framing can no longer be trusted.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiError, Logger } from '../../shared/index.js';
import { errors } from '../errors.js';
import { sendError, toApiError } from './error-handler.js';

/** Longest request target served (bytes); longer is 414. Past the parser's 16 KB header limit it is 414 too. */
export const MAX_URL_BYTES = 8192;
/** Longest single path parameter (Fastify's maxParamLength); longer is 414. */
export const MAX_PARAM_LENGTH = 100;

const REQUEST_LINE_START = /^[A-Z]{3,10} \S/;

/** Did the parser give up while still in the request line (a URL too long), rather than in the headers? */
function overflowedInRequestLine(raw: Buffer | undefined): boolean {
  if (!raw || !REQUEST_LINE_START.test(raw.subarray(0, 16).toString('latin1'))) return false;
  const eol = raw.indexOf('\r\n');
  return eol < 0 || eol > MAX_URL_BYTES;
}

/** What to answer a request Node's parser refused (pure). */
export function clientErrorAnswer(err: { code?: unknown; rawPacket?: unknown }): ApiError {
  const code = typeof err.code === 'string' ? err.code : '';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return errors.request_timeout({ reason: 'headers_timeout' });
  if (code === 'HPE_HEADER_OVERFLOW') {
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
    return overflowedInRequestLine(raw)
      ? errors.uri_too_long({ reason: 'request_line_too_long', max_bytes: MAX_URL_BYTES })
      : errors.headers_too_large({ reason: 'header_section_too_large' });
  }
  // llhttp's names are stable: HPE_INVALID_HEADER_TOKEN → invalid_header_token
  const reason = code.startsWith('HPE_') ? code.slice(4).toLowerCase() : 'malformed';
  return errors.malformed_request({ reason });
}

/** The answer as bytes on the wire: status line, JSON body, `Connection: close`. */
export function rawErrorResponse(err: ApiError): string {
  const body = JSON.stringify(err.toBody());
  return (
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/** Fastify's `clientErrorHandler` (the server's `clientError` event). */
export function clientErrorHandler(log: Logger) {
  return (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = clientErrorAnswer(err);
    log.info({ code: answer.code, details: answer.details, parser_code: err.code }, 'request refused before routing');
    // as Node does: write only when no answer on this socket has started, else the peer gets garbage
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(rawErrorResponse(answer), () => socket.destroy());
    // a peer that never reads must not hold the socket open
    setTimeout(() => socket.destroy(), 2000).unref();
  };
}

/** Fastify's `frameworkErrors`: router errors raised before any hook. */
export function frameworkErrorHandler(error: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  let answer: ApiError;
  if (error.code === 'FST_ERR_BAD_URL') {
    answer = errors.malformed_request({ reason: 'bad_percent_encoding', in: 'url' }, 'the URL path has a malformed percent-encoding');
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    answer = errors.uri_too_long({ reason: 'path_segment_too_long', max_length: MAX_PARAM_LENGTH }, `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`);
  } else {
    answer = toApiError(error);
  }
  req.log.info({ code: answer.code, details: answer.details }, 'request rejected');
  reply.header('X-Request-Id', req.id);
  void sendError(reply, answer);
}

/** The server's `checkExpectation` event: any `Expect` but 100-continue (Node would send an empty 417). */
export function expectationFailed(req: IncomingMessage, res: ServerResponse): void {
  const answer = errors.expectation_failed({ expect: String(req.headers.expect ?? '').slice(0, 100) });
  const body = JSON.stringify(answer.toBody());
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

/**
 * First onRequest hook: what Node would have refused with an empty answer, and requests arriving
 * while the server shuts down (Fastify's own 503 has another shape; `return503OnClosing` is off).
 */
export function registerRequestChecks(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.server.on('checkExpectation', expectationFailed);
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      reply.header('Connection', 'close');
      throw errors.service_unavailable({ reason: 'shutting_down' }, 'the server is shutting down; retry');
    }
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      reply.header('Connection', 'close');
      throw errors.malformed_request({ reason: 'missing_host' }, 'HTTP/1.1 requests need a Host header');
    }
    if (Buffer.byteLength(req.url) > MAX_URL_BYTES) {
      throw errors.uri_too_long({ reason: 'url_too_long', max_bytes: MAX_URL_BYTES }, `the URL is longer than ${MAX_URL_BYTES} bytes`);
    }
  });
}
