/**
 * Request framing the node refuses (RFC 9112 §3.2, §6.1, §6.3): two Host headers, Content-Length
 * headers that disagree or a Content-Length that is not digits, any Transfer-Encoding but a single
 * `chunked`, and Transfer-Encoding together with Content-Length. A proxy in front may
 * frame such a request differently from uWS (which reads the first Host / Content-Length and
 * treats any Transfer-Encoding as chunked), so answering it and keeping the connection would let a
 * request be smuggled behind it. The answer is 400 and the connection is closed.
 *
 * The check runs on every request, before anything else: one pass over the headers uWS already
 * parsed, no allocation of its own (module-level counters, one callback function). The same pass
 * keeps the first value of the headers the node reads on every redirect (`seen`), so the handler
 * does not ask uWS for them again (each `getHeader` costs about as much as visiting ten headers).
 */
import type { HttpResponse } from 'uWebSockets.js';

/** The parts of uWS's HttpRequest the check reads (header names arrive lower-cased). */
export interface HeaderSource {
  forEach(cb: (key: string, value: string) => void): void;
}

export type FramingProblem =
  | 'duplicate_host'
  | 'conflicting_content_length'
  | 'invalid_content_length'
  | 'transfer_encoding'
  | 'transfer_encoding_with_content_length';

/** First value of each header the redirect path reads, from the last `framingProblem` call ('' when absent). */
export const seen = { host: '', userAgent: '', referer: '', acceptLanguage: '', forwardedFor: '', requestId: '' };

let hosts = 0;
let contentLength: string | null = null;
let lengthsDisagree = false;
let encodings = 0;
let encodingIsChunked = false;

function visit(key: string, value: string): void {
  // the length tells the names apart from almost every other header without a string compare
  switch (key.length) {
    case 4:
      if (key === 'host' && hosts++ === 0) seen.host = value;
      return;
    case 7:
      if (key === 'referer' && seen.referer === '') seen.referer = value;
      return;
    case 10:
      if (key === 'user-agent' && seen.userAgent === '') seen.userAgent = value;
      return;
    case 15:
      if (key === 'accept-language') {
        if (seen.acceptLanguage === '') seen.acceptLanguage = value;
      } else if (key === 'x-forwarded-for' && seen.forwardedFor === '') seen.forwardedFor = value;
      return;
    case 12:
      if (key === 'x-request-id' && seen.requestId === '') seen.requestId = value;
      return;
    case 14:
      if (key === 'content-length') {
        if (contentLength === null) contentLength = value;
        else if (value !== contentLength) lengthsDisagree = true;
      }
      return;
    case 17:
      if (key === 'transfer-encoding') {
        encodings++;
        encodingIsChunked = value.length === 7 && value.toLowerCase() === 'chunked';
      }
      return;
    default:
  }
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Null when the request may be served; otherwise what is wrong with its framing. */
export function framingProblem(req: HeaderSource): FramingProblem | null {
  hosts = 0;
  contentLength = null;
  lengthsDisagree = false;
  encodings = 0;
  encodingIsChunked = false;
  seen.host = '';
  seen.userAgent = '';
  seen.referer = '';
  seen.acceptLanguage = '';
  seen.forwardedFor = '';
  seen.requestId = '';
  req.forEach(visit);
  if (hosts > 1) return 'duplicate_host';
  if (lengthsDisagree) return 'conflicting_content_length';
  if (contentLength !== null && !isDigits(contentLength)) return 'invalid_content_length';
  if (encodings > 1 || (encodings === 1 && !encodingIsChunked)) return 'transfer_encoding';
  if (encodings === 1 && contentLength !== null) return 'transfer_encoding_with_content_length';
  return null;
}

/**
 * The status line, headers and body of the refusal, written as header lines: uWS 20.30 writes each
 * `writeHeader` straight to the connection and adds nothing until the response ends (or a body
 * chunk is written, which would switch it to chunked encoding). The last line carries the blank
 * line and the body; the CRLF uWS ends that line with is the body's own line end, so the answer is
 * exactly `Content-Length` framed. The response is deliberately left unfinished: uWS then parses
 * no request pipelined behind it (it drops the connection instead), and `close()` on the next tick
 * — after uWS has flushed these bytes — ends the connection.
 */
const BODY = 'Bad Request';
const LAST_LINE = `${BODY.length + 2}\r\n\r\n${BODY}`;

export function refuse(res: HttpResponse): void {
  let gone = false;
  res.onAborted(() => {
    gone = true;
  });
  res.writeStatus('400 Bad Request');
  res.writeHeader('Content-Type', 'text/plain; charset=utf-8');
  res.writeHeader('Cache-Control', 'no-store');
  res.writeHeader('Connection', 'close');
  res.writeHeader('Content-Length', LAST_LINE);
  setImmediate(() => {
    if (!gone) res.close();
  });
}
