/**
 * Sends exact bytes to a listening server and reads back the first answer, raw. For requests no
 * HTTP client would send (a control byte in a header, a 20 KB request line, a stalled header
 * section), where what the server does before any framework runs is the thing under test.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** Everything the server wrote, as latin1 text. */
  raw: string;
  /** null when nothing parseable came back. */
  status: number | null;
  /** Lower-cased names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection (within `closeWithinMs` of its answer). */
  closed: boolean;
}

export interface RawOptions {
  host?: string;
  /** Give up after this long (the answer so far is returned). */
  timeoutMs?: number;
  /** After a complete answer, wait this long to see whether the server closes. */
  closeWithinMs?: number;
  /** Send the bytes in pieces, this far apart (e.g. a slow request). */
  pieces?: { size: number; everyMs: number };
}

function parse(raw: string): { status: number | null; headers: Record<string, string>; body: string; complete: boolean } {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return { status: null, headers: {}, body: '', complete: false };
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.slice(end + 4);
  let complete = false;
  if (headers['content-length'] !== undefined) {
    const len = Number(headers['content-length']);
    complete = Buffer.byteLength(body, 'latin1') >= len;
    body = Buffer.from(body, 'latin1').subarray(0, len).toString('utf8');
  } else if (headers['transfer-encoding'] === 'chunked') {
    complete = /(^|\r\n)0\r\n\r\n$/.test(body);
  }
  return { status: m ? Number(m[1]) : null, headers, body, complete };
}

export function rawRequest(port: number, bytes: string | Buffer, opts: RawOptions = {}): Promise<RawAnswer> {
  const { host = '127.0.0.1', timeoutMs = 5000, closeWithinMs = 200 } = opts;
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const chunks: Buffer[] = [];
    let closed = false;
    let settled = false;
    let closeWait: NodeJS.Timeout | null = null;
    let pump: NodeJS.Timeout | null = null;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (closeWait) clearTimeout(closeWait);
      if (pump) clearInterval(pump);
      const raw = Buffer.concat(chunks).toString('latin1');
      const p = parse(raw);
      socket.destroy();
      resolve({ raw, status: p.status, headers: p.headers, body: p.body, closed });
    };
    const deadline = setTimeout(finish, timeoutMs);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (!closeWait && parse(Buffer.concat(chunks).toString('latin1')).complete) closeWait = setTimeout(finish, closeWithinMs);
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on('error', () => undefined); // a reset after the answer is part of what is observed
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    if (!opts.pieces) {
      socket.write(data);
      return;
    }
    const { size, everyMs } = opts.pieces;
    let at = 0;
    const next = () => {
      if (socket.destroyed || at >= data.length) {
        if (pump) clearInterval(pump);
        return;
      }
      socket.write(data.subarray(at, at + size));
      at += size;
    };
    next();
    pump = setInterval(next, everyMs);
  });
}
