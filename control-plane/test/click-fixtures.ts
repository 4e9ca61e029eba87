/**
 * Test clicks: deterministic, varied click events (as nodes would capture them) and a publisher
 * that ships them to `<prefix>.clicks.<node>` in batches with a Nats-Msg-Id, like a node does.
 */
import { createHash } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { encodeClickBatch, ensureClicksStream, natsNames, newClickId, type ClickEvent } from '../../shared/index.js';
import type { Pool } from '../db/pool.js';

export interface FixtureLink {
  id: string;
  workspaceId: string;
  domain: string;
  path: string;
}

const COUNTRIES = ['US', 'DE', 'FR', 'JP', 'BR', null];
const DEVICES = ['mobile', 'desktop', 'tablet'];
const OSES = ['ios', 'android', 'windows', 'macos', 'linux'];
const BROWSERS = ['safari', 'chrome', 'firefox', 'edge'];
const REFERRERS = ['news.ycombinator.com', 't.co', 'www.google.com', null, null];

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(xs: readonly T[], r: number): T => xs[Math.floor(r * xs.length) % xs.length]!;

/**
 * `n` clicks over `links`, starting at `start` (epoch ms) and `spacingMs` apart. A visitor keeps
 * its country, device, OS, browser and A/B variant; referrers vary per click; some are bots and QR scans.
 */
export function makeClicks(n: number, links: readonly FixtureLink[], opts: { start: number; spacingMs?: number; visitors?: number; seed?: number; nodeId?: string }): ClickEvent[] {
  const rand = prng(opts.seed ?? 1);
  const visitors = opts.visitors ?? Math.max(1, Math.floor(n / 3));
  const spacing = opts.spacingMs ?? 1;
  const out: ClickEvent[] = [];
  for (let i = 0; i < n; i++) {
    const link = links[Math.floor(rand() * links.length)]!;
    const v = Math.floor(rand() * visitors);
    const vr = prng(v + 7);
    const occurredAt = opts.start + i * spacing;
    const bot = vr() < 0.05;
    const ab = link.path.startsWith('ab');
    const variant = ab ? (vr() < 0.5 ? 'a' : 'b') : null;
    const rule = ab && vr() < 0.3 ? 'r1' : null;
    out.push({
      v: 1,
      id: newClickId(occurredAt),
      occurredAt,
      linkId: link.id,
      workspaceId: link.workspaceId,
      domain: link.domain,
      path: link.path,
      destination: `https://example.org/${link.path}${variant ? `?v=${variant}` : ''}`,
      ruleId: rule,
      variantId: variant,
      country: pick(COUNTRIES, vr()),
      deviceClass: bot ? 'bot' : pick(DEVICES, vr()),
      os: pick(OSES, vr()),
      browser: pick(BROWSERS, vr()),
      referrerHost: pick(REFERRERS, rand()),
      language: pick(['en', 'de', 'fr', null], vr()),
      bot,
      qr: rand() < 0.1,
      utm: link.path.endsWith('utm') ? { source: 'newsletter', campaign: 'spring' } : null,
      nodeId: opts.nodeId ?? 'node-t',
      visitorHash: createHash('sha256').update(`visitor-${v}`).digest('hex').slice(0, 32),
    });
  }
  return out;
}

/** Publishes `clicks` in batches of `perBatch` (one message each, Nats-Msg-Id = batch id). Returns the batch ids. */
export async function publishClicks(
  nc: NatsConnection,
  prefix: string,
  clicks: readonly ClickEvent[],
  opts: { perBatch?: number; nodeId?: string; batchIdPrefix?: string } = {},
): Promise<string[]> {
  const names = natsNames(prefix);
  await ensureClicksStream(await jetstreamManager(nc), prefix, {}, 'use');
  const js = jetstream(nc);
  const nodeId = opts.nodeId ?? 'node-t';
  const per = opts.perBatch ?? 1000;
  const ids: string[] = [];
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < clicks.length; i += per) {
    const batchId = `${opts.batchIdPrefix ?? 'b'}-${nodeId}-${i / per}`;
    const data = encodeClickBatch({ v: 1, nodeId, batchId, events: clicks.slice(i, i + per) });
    // the shared test NATS under a loaded machine can keep a PubAck past the 5 s default
    acks.push(js.publish(names.clicksSubject(nodeId), data, { msgID: batchId, timeout: 60_000 }));
    ids.push(batchId);
    if (acks.length >= 64) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
  return ids;
}

/** Publishes raw bytes on a node's click subject (garbage tests). */
export async function publishRaw(nc: NatsConnection, prefix: string, data: Uint8Array, msgId: string, nodeId = 'node-t'): Promise<void> {
  await ensureClicksStream(await jetstreamManager(nc), prefix, {}, 'use');
  const h = headers();
  h.set('Nats-Msg-Id', msgId);
  await jetstream(nc).publish(natsNames(prefix).clicksSubject(nodeId), data, { headers: h });
}

export async function clickCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM clicks');
  return Number(rows[0]!.n);
}
