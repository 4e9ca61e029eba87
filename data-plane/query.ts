/**
 * Query strings on the hot path, without URL objects: `qr=1` detection, query conditions, and the
 * forward_query merge (incoming parameters replace the destination's parameters of the same name,
 * never duplicating a key the destination already has; `qr=1` is never forwarded). Incoming bytes
 * that are not safe in a URL are percent-encoded, so a visitor's query can change the query of the
 * Location and nothing else.
 */

/** Decodes one query component (`+` is a space); null if the percent-encoding is broken. */
export function decodeComponent(s: string): string | null {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

function isQrPair(pair: string): boolean {
  return pair === 'qr=1';
}

/** True when the query carries `qr=1` (a QR-code scan). */
export function hasQrFlag(query: string): boolean {
  if (query.length < 4) return false;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end - start === 4 && query.startsWith('qr=1', start)) return true;
    start = end + 1;
  }
  return false;
}

/** True when some `key=value` pair of the query equals (key, value) after decoding. */
export function queryHas(query: string, key: string, value: string): boolean {
  let start = 0;
  while (start < query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    if (decodeComponent(query.slice(start, keyEnd)) === key) {
      const v = keyEnd === end ? '' : decodeComponent(query.slice(keyEnd + 1, end));
      if (v === value) return true;
    }
    start = end + 1;
  }
  return false;
}

const HEX = '0123456789ABCDEF';

function isSafeQueryChar(c: number): boolean {
  // printable ASCII except space " # < > \ ^ ` { | }
  return c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x23 && c !== 0x3c && c !== 0x3e && c !== 0x5c && c !== 0x5e && c !== 0x60 && c !== 0x7b && c !== 0x7c && c !== 0x7d;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/** Makes an incoming query pair safe to put in a Location header (percent-encodes the rest as UTF-8). */
export function sanitizeQueryPart(s: string): string {
  let safe = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isSafeQueryChar(c) || (c === 37 && !(isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))))) {
      safe = false;
      break;
    }
  }
  if (safe) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) out += '%';
    else if (c !== 37 && isSafeQueryChar(c)) out += s[i];
    else {
      let ch = s[i]!;
      if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        ch = s.slice(i, i + 2); // a surrogate pair is one character
        i++;
      } else if (c >= 0xd800 && c <= 0xdfff) ch = '\ufffd'; // lone surrogate
      for (const b of Buffer.from(ch, 'utf8')) out += '%' + HEX[b >> 4]! + HEX[b & 15]!;
    }
  }
  return out;
}

function pairKey(pair: string): string | null {
  const eq = pair.indexOf('=');
  return decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
}

/**
 * `destination` with the incoming query merged in. Destination parameters whose name the
 * visitor also sent are dropped (the visitor's value wins); `qr=1` and empty pairs are skipped;
 * the destination's fragment stays at the end.
 */
export function mergeQuery(destination: string, incoming: string): string {
  if (incoming.length === 0) return destination;
  const incomingPairs: string[] = [];
  const incomingKeys = new Set<string>();
  for (const raw of incoming.split('&')) {
    if (raw.length === 0 || isQrPair(raw)) continue;
    const pair = sanitizeQueryPart(raw);
    incomingPairs.push(pair);
    const key = pairKey(pair);
    if (key !== null) incomingKeys.add(key);
  }
  if (incomingPairs.length === 0) return destination;
  const hashAt = destination.indexOf('#');
  const fragment = hashAt < 0 ? '' : destination.slice(hashAt);
  const beforeHash = hashAt < 0 ? destination : destination.slice(0, hashAt);
  const qAt = beforeHash.indexOf('?');
  const base = qAt < 0 ? beforeHash : beforeHash.slice(0, qAt);
  const kept: string[] = [];
  if (qAt >= 0) {
    for (const pair of beforeHash.slice(qAt + 1).split('&')) {
      if (pair.length === 0) continue;
      const key = pairKey(pair);
      if (key === null || !incomingKeys.has(key)) kept.push(pair);
    }
  }
  for (const p of incomingPairs) kept.push(p);
  return `${base}?${kept.join('&')}${fragment}`;
}
