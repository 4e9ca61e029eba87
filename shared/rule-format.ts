/**
 * The compiled rule: everything a redirect node needs to answer a click, precomputed by the
 * control plane. It travels as JSON in the NATS KV bucket (value of `linkKvKey`) and is decoded
 * once per version on the node. The node does no policy parsing: it matches and redirects.
 *
 * Bump RULE_FORMAT when a change is not backwards compatible; nodes ignore formats they don't know.
 */
export const RULE_FORMAT = 1 as const;

export type RedirectStatus = 301 | 302 | 307 | 308;
export const REDIRECT_STATUSES: readonly RedirectStatus[] = [301, 302, 307, 308];

/** Canonical OS names (lower case) conditions use; the node maps ua-parser-js output onto them. */
export const OS_NAMES = ['ios', 'android', 'windows', 'macos', 'linux', 'chromeos'] as const;
export type OsName = (typeof OS_NAMES)[number];
/** Device classes conditions use. `desktop` is anything ua-parser-js does not call mobile/tablet. */
export const DEVICE_CLASSES = ['mobile', 'tablet', 'desktop', 'bot'] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

export type Condition =
  /** ISO 3166-1 alpha-2, upper case. */
  | { type: 'country'; in: string[] }
  | { type: 'os'; in: OsName[] }
  | { type: 'device'; in: DeviceClass[] }
  /** Lower-case language tags: `en` matches `en`, `en-US`…; `pt-br` matches only `pt-BR`. */
  | { type: 'language'; in: string[] }
  /** Canonical CIDRs, IPv4 and IPv6 mixed. */
  | { type: 'ip'; cidrs: string[] }
  /** Query parameter `key` equals `value` exactly. */
  | { type: 'query'; key: string; value: string }
  /**
   * Absolute window [from, to) in epoch ms (either side open when null), optionally narrowed to
   * weekdays (0 = Sunday) and an hour range [start, end) evaluated in `timezone` (IANA).
   */
  | {
      type: 'time';
      from: number | null;
      to: number | null;
      days: number[] | null;
      hours: [number, number] | null;
      timezone: string;
    };

export interface Variant {
  id: string;
  url: string;
  weight: number;
  /** Running sum of weights up to and including this variant; the last one is the total. */
  cumulative: number;
}

export interface CompiledRule {
  id: string;
  /** All must hold. */
  when: Condition[];
  /** Exactly one of url / variants. */
  url: string | null;
  variants: Variant[] | null;
}

/** Which request facts the rules look at, so the hot path only computes what is needed. */
export interface Needs {
  country: boolean;
  userAgent: boolean;
  language: boolean;
  ip: boolean;
  query: boolean;
  visitor: boolean;
}

export interface CompiledLink {
  format: typeof RULE_FORMAT;
  kind: 'link';
  linkId: string;
  workspaceId: string;
  /** Monotonic per link; bumps on every change. */
  version: number;
  domain: string;
  path: string;
  /** Final destination, UTM already merged. */
  destination: string;
  redirectStatus: RedirectStatus;
  forwardQuery: boolean;
  disabled: boolean;
  /** Epoch ms, or null. */
  expiresAt: number | null;
  status: 'live' | 'pending';
  /** First matching rule wins. */
  rules: CompiledRule[];
  /** Default split when no rule matches (null → destination). */
  ab: Variant[] | null;
  needs: Needs;
  /** UTM snapshot for click events. */
  utm: Record<string, string> | null;
}

export interface CompiledDomain {
  format: typeof RULE_FORMAT;
  kind: 'domain';
  hostname: string;
  workspaceId: string;
  notFoundUrl: string | null;
  expiredUrl: string | null;
  version: number;
}

export type KvValue = CompiledLink | CompiledDomain;

export function encodeKvValue(value: KvValue): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Decodes a KV value; `null` if it is not a format this build understands. */
export function decodeKvValue(bytes: Uint8Array): KvValue | null {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as { format?: unknown; kind?: unknown };
  if (o.format !== RULE_FORMAT || (o.kind !== 'link' && o.kind !== 'domain')) return null;
  return v as KvValue;
}
