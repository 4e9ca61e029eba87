/**
 * Key encoding, decided once:
 * - NATS KV key of a link:   `l.` + base64url(domain + "/" + path)
 * - NATS KV key of a domain: `d.` + base64url(domain)
 * base64url (no padding) only uses `[A-Za-z0-9_-]`, all legal KV key characters, and is reversible,
 * so a node can rebuild the lookup key without a side table. The `l.`/`d.` token keeps links and
 * domain settings (fallback pages) in one ordered bucket.
 * - Node store key (LMDB): `domain + "/" + path`, the same string the node builds from Host + URL.
 */

export const LINK_KEY_PREFIX = 'l.';
export const DOMAIN_KEY_PREFIX = 'd.';

export function storeKey(domain: string, path: string): string {
  return `${domain}/${path}`;
}

export function linkKvKey(domain: string, path: string): string {
  return LINK_KEY_PREFIX + Buffer.from(storeKey(domain, path), 'utf8').toString('base64url');
}

export function domainKvKey(domain: string): string {
  return DOMAIN_KEY_PREFIX + Buffer.from(domain, 'utf8').toString('base64url');
}

export type ParsedKvKey =
  | { kind: 'link'; domain: string; path: string; storeKey: string }
  | { kind: 'domain'; domain: string };

/** Inverse of linkKvKey/domainKvKey; `null` for keys this product did not write. */
export function parseKvKey(key: string): ParsedKvKey | null {
  if (key.startsWith(LINK_KEY_PREFIX)) {
    const decoded = Buffer.from(key.slice(LINK_KEY_PREFIX.length), 'base64url').toString('utf8');
    const slash = decoded.indexOf('/');
    if (slash <= 0) return null;
    return { kind: 'link', domain: decoded.slice(0, slash), path: decoded.slice(slash + 1), storeKey: decoded };
  }
  if (key.startsWith(DOMAIN_KEY_PREFIX)) {
    const domain = Buffer.from(key.slice(DOMAIN_KEY_PREFIX.length), 'base64url').toString('utf8');
    return domain ? { kind: 'domain', domain } : null;
  }
  return null;
}
