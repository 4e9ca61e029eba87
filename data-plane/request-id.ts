/**
 * The X-Request-Id a request brought, if the node may echo it: the control plane's rule (1–128 of
 * A-Z a-z 0-9 . _ : -), checked without a regular expression (it runs on the request path, and
 * only for requests that carry the header). Anything else is not echoed: the node never makes up
 * an id of its own (its responses carry one only when the caller set it).
 */
export function echoableRequestId(v: string): boolean {
  const n = v.length;
  if (n === 0 || n > 128) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    // 0-9 . : - _ A-Z a-z
    if (!((c >= 48 && c <= 58) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95)) return false;
  }
  return true;
}
