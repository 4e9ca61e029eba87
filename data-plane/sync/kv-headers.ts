/**
 * The two headers the node reads from a links-stream message — the KV operation and the outbox
 * sequence (Lp-Outbox-Seq) — read straight from the message's raw header block. nats.js decodes a
 * message's whole header block into a MsgHdrs object (a TextDecoder pass, a split, a Map of arrays)
 * on first access; during a bulk import that is once per KV entry, for two values.
 *
 * The block is `NATS/1.0[ status]\r\n` then `Name: value\r\n` lines and a blank line. Names are
 * matched case-insensitively (as nats.js's `get` does by default); the first occurrence wins.
 */
import { KV_OPERATION_HEADER, OUTBOX_SEQ_HEADER } from '../../shared/index.js';

export interface KvHeaders {
  /** KV-Operation: 'DEL' or 'PURGE' for a delete marker, otherwise 'PUT'. */
  operation: 'PUT' | 'DEL' | 'PURGE';
  /** Lp-Outbox-Seq as a positive safe integer, or null (absent or not a number). */
  outboxSeq: number | null;
}

const lower = (s: string) => Array.from(s.toLowerCase(), (c) => c.charCodeAt(0));
const OP = lower(KV_OPERATION_HEADER);
const SEQ = lower(OUTBOX_SEQ_HEADER);
const CR = 13;
const LF = 10;
const COLON = 58;

/** Does the name in `b[start, end)` equal `name` (lower-case bytes), ignoring ASCII case? */
function nameIs(b: Uint8Array, start: number, end: number, name: number[]): boolean {
  if (end - start !== name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = b[start + i]!;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== name[i]) return false;
  }
  return true;
}

/** A value's bounds without the blanks around it. */
function trimmed(b: Uint8Array, start: number, end: number): [number, number] {
  while (start < end && (b[start] === 32 || b[start] === 9)) start++;
  while (end > start && (b[end - 1] === 32 || b[end - 1] === 9)) end--;
  return [start, end];
}

function operationOf(b: Uint8Array, start: number, end: number): KvHeaders['operation'] {
  const [s, e] = trimmed(b, start, end);
  const n = e - s;
  if (n === 3 && b[s] === 68 && b[s + 1] === 69 && b[s + 2] === 76) return 'DEL';
  if (n === 5 && b[s] === 80 && b[s + 1] === 85 && b[s + 2] === 82 && b[s + 3] === 71 && b[s + 4] === 69) return 'PURGE';
  return 'PUT';
}

function seqOf(b: Uint8Array, start: number, end: number): number | null {
  const [s, e] = trimmed(b, start, end);
  if (s === e || e - s > 16) return null;
  let n = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Reads the KV operation and outbox sequence from a raw NATS header block. */
export function parseKvHeaders(b: Uint8Array): KvHeaders {
  let operation: KvHeaders['operation'] = 'PUT';
  let outboxSeq: number | null = null;
  let gotOp = false;
  let gotSeq = false;
  const n = b.length;
  // skip the status line
  let i = 0;
  while (i < n && b[i] !== LF) i++;
  i++;
  while (i < n && !(gotOp && gotSeq)) {
    let end = i;
    while (end < n && b[end] !== LF) end++;
    const lineEnd = end > i && b[end - 1] === CR ? end - 1 : end;
    if (lineEnd === i) break; // the blank line ends the block
    let colon = i;
    while (colon < lineEnd && b[colon] !== COLON) colon++;
    if (colon < lineEnd) {
      if (!gotOp && nameIs(b, i, colon, OP)) {
        operation = operationOf(b, colon + 1, lineEnd);
        gotOp = true;
      } else if (!gotSeq && nameIs(b, i, colon, SEQ)) {
        outboxSeq = seqOf(b, colon + 1, lineEnd);
        gotSeq = true;
      }
    }
    i = end + 1;
  }
  return { operation, outboxSeq };
}

const NONE: KvHeaders = { operation: 'PUT', outboxSeq: null };

/** What nats.js keeps of a received message: its raw bytes and where its header block ends. */
interface RawMsg {
  _rdata?: unknown;
  _msg?: { hdr?: unknown };
  /** A JetStream message's core message. */
  msg?: RawMsg;
}

/**
 * The headers of a received message (a core `Msg` or a `JsMsg`): from the raw header block when
 * nats.js exposes it as it does today (MsgImpl `_rdata` and `_msg.hdr`), else through its public
 * `headers`.
 */
export function kvHeadersOf(m: { headers?: { get(k: string): string } | undefined }): KvHeaders {
  const raw = (m as RawMsg).msg ?? (m as RawMsg);
  const hdr = raw._msg?.hdr;
  if (raw._rdata instanceof Uint8Array && typeof hdr === 'number') {
    return hdr > 0 ? parseKvHeaders(raw._rdata.subarray(0, hdr)) : NONE;
  }
  const h = m.headers;
  if (h === undefined) return NONE;
  const op = h.get(KV_OPERATION_HEADER);
  const v = h.get(OUTBOX_SEQ_HEADER);
  const seq = v ? Number(v) : NaN;
  return { operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT', outboxSeq: Number.isSafeInteger(seq) && seq > 0 ? seq : null };
}
