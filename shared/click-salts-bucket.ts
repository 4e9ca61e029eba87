/** Opens (creating if needed) the KV bucket of the daily visitor-hash salts (`<prefix>_click_salts`). */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsNames } from './subjects.js';

/** Salts expire after 3 days: JetStream deletes them, so a hash cannot be linked across days later. */
export const CLICK_SALTS_TTL_MS = 3 * 86_400_000;

export function openClickSaltsBucket(nc: NatsConnection, prefix: string, opts: { replicas?: number } = {}): Promise<KV> {
  return new Kvm(nc).create(natsNames(prefix).clickSaltsBucket, { history: 1, ttl: CLICK_SALTS_TTL_MS, replicas: opts.replicas ?? 1 });
}
