/**
 * The links the redirect benchmarks serve: `count` plain links and `ruleCount` links with geo +
 * device + A/B routing on one branded domain, compiled with the control plane's own compiler
 * (`compileLink`) and written straight into the links KV bucket the way the outbox relay writes
 * them (`encodeKvValue`, the relay's pipelined KvBatchPublisher). Keys are deterministic, so the node, nginx and the
 * load generator agree on them without passing 1 M strings around.
 */
import type { KV } from '@nats-io/kv';
import { KvBatchPublisher, type KvWrite } from '../../control-plane/outbox/kv-batch-publisher.js';
import { connect } from '@nats-io/transport-node';
import {
  compileDomain, compileLink, domainKvKey, encodeKvValue, linkKvKey, openLinksBucket,
  type DomainSettings, type LinkSource, type RoutingInput,
} from '../../shared/index.js';
import { prng } from './http-load.js';

export const BENCH_DOMAIN = 'go.bench.example';
export const BENCH_WORKSPACE = 'ws_01JBENCH00000000000000000';

export const BENCH_DOMAIN_SETTINGS: DomainSettings = {
  hostname: BENCH_DOMAIN,
  workspaceId: BENCH_WORKSPACE,
  utmTemplate: null,
  defaultRedirectStatus: null,
  notFoundUrl: 'https://www.example.com/not-found',
  expiredUrl: null,
  version: 1,
};

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SPACE = 62 ** 7;
/** Odd and not a multiple of 31, so `i → i·M mod 62^7` is a bijection: distinct, random-looking codes. */
const MULTIPLIER = 1_000_003;

/** The 7-character base62 code of link `i` (what a short-link service generates). */
export function linkCode(i: number): string {
  let v = (i * MULTIPLIER + 9_876_543) % SPACE;
  let s = '';
  for (let k = 0; k < 7; k++) {
    s = BASE62[v % 62]! + s;
    v = Math.floor(v / 62);
  }
  return s;
}

export const plainPath = (i: number): string => linkCode(i);
/** Rule links live in their own namespace (a `r-` prefix can never collide with a 7-char code). */
export const rulePath = (i: number): string => `r-${linkCode(i)}`;
/** Paths no link uses (404 with the domain's fallback page). */
export const unknownPath = (i: number): string => `u-${linkCode(i)}`;

export function plainDestination(i: number): string {
  return `https://www.example.com/landing/${i}?utm_source=newsletter&utm_medium=email&utm_campaign=bench`;
}

export function plainSource(i: number): LinkSource {
  return {
    id: `ln_01JBENCH${String(i).padStart(17, '0')}`,
    workspaceId: BENCH_WORKSPACE,
    version: 1,
    domain: BENCH_DOMAIN,
    path: plainPath(i),
    destinationUrl: plainDestination(i),
    utm: null,
    routing: null,
    redirectStatus: null,
    forwardQuery: false,
    disabled: false,
    expiresAt: null,
    status: 'live',
  };
}

/** Geo (2 rules), device (2 rules) and a 50/50 split: every request evaluates all of them. */
export function benchRouting(i: number): RoutingInput {
  return {
    geo: [
      { country: ['SG', 'MY'], url: `https://www.example.com/sea/${i}` },
      { country: 'DE', url: `https://www.example.com/de/${i}` },
    ],
    device: [
      { os: 'iOS', url: `https://apps.apple.com/app/id${100000 + i}` },
      { os: 'Android', url: `https://play.google.com/store/apps/details?id=com.example.app${i}` },
    ],
    ab: [
      { weight: 50, url: `https://www.example.com/a/${i}` },
      { weight: 50, url: `https://www.example.com/b/${i}` },
    ],
  };
}

function ruleSource(i: number): LinkSource {
  return {
    ...plainSource(i),
    id: `ln_01JBENCHR${String(i).padStart(16, '0')}`,
    path: rulePath(i),
    destinationUrl: `https://www.example.com/default/${i}`,
    routing: benchRouting(i),
  };
}

export interface LoadReport {
  puts: number;
  seconds: number;
  /** Stream sequence after the last put (what a node must reach). */
  lastSeq: number;
}

/**
 * Writes the domain, `count` plain and `ruleCount` rule links into `<prefix>_links` at `natsUrl`,
 * with the relay's own pipelined publisher (every put acknowledged by JetStream, `batch` at a time).
 */
export async function publishLinks(natsUrl: string, prefix: string, count: number, ruleCount: number, batch = 5000): Promise<LoadReport> {
  const nc = await connect({ servers: natsUrl, timeout: 5000 });
  try {
    const kv: KV = await openLinksBucket(nc, prefix);
    const publisher = KvBatchPublisher.for(kv);
    const t0 = performance.now();
    let writes: KvWrite[] = [{ key: domainKvKey(BENCH_DOMAIN), op: 'put', payload: encodeKvValue(compileDomain(BENCH_DOMAIN_SETTINGS)) }];
    const flush = async () => {
      await publisher.publish(writes, 60_000);
      writes = [];
    };
    const add = async (src: LinkSource) => {
      writes.push({ key: linkKvKey(src.domain, src.path), op: 'put', payload: encodeKvValue(compileLink(src, BENCH_DOMAIN_SETTINGS)) });
      if (writes.length >= batch) await flush();
    };
    for (let i = 0; i < count; i++) await add(plainSource(i));
    for (let i = 0; i < ruleCount; i++) await add(ruleSource(i));
    await flush();
    publisher.close();
    const seconds = (performance.now() - t0) / 1000;
    const lastSeq = (await kv.status()).streamInfo.state.last_seq;
    return { puts: count + ruleCount + 1, seconds, lastSeq };
  } finally {
    await nc.close();
  }
}

/** Browsers the rule links see: enough variety that device rules go every way, few enough to stay in the UA cache. */
const USER_AGENTS = [
  (v: number) => `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${v % 6} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v % 6} Mobile/15E148 Safari/604.1`,
  (v: number) => `Mozilla/5.0 (Linux; Android 14; Pixel ${6 + (v % 3)}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.${v} Mobile Safari/537.36`,
  (v: number) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.${v} Safari/537.36`,
  (v: number) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v % 6} Safari/605.1.15`,
  (v: number) => `Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.${v % 4}`,
];

function isPrivateV4(a: number, b: number): boolean {
  return a === 0 || a === 10 || a === 127 || a >= 224 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254)
    || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168);
}

/**
 * Visitors: a public client address (sent as X-Forwarded-For; the bench node trusts 127.0.0.1 as
 * its proxy, so geo rules see it) and a user agent. The same header sets go to plain links, rule
 * links and nginx, so only the server's work differs.
 */
export function visitorHeaderSets(n: number, seed = 7): Record<string, string>[] {
  const rnd = prng(seed);
  const out: Record<string, string>[] = [];
  while (out.length < n) {
    const a = Math.floor(rnd() * 256);
    const b = Math.floor(rnd() * 256);
    if (isPrivateV4(a, b)) continue;
    const ip = `${a}.${b}.${Math.floor(rnd() * 256)}.${1 + Math.floor(rnd() * 254)}`;
    const ua = USER_AGENTS[out.length % USER_AGENTS.length]!(Math.floor(out.length / USER_AGENTS.length) % 40);
    out.push({ 'user-agent': ua, 'x-forwarded-for': ip, accept: '*/*' });
  }
  return out;
}
