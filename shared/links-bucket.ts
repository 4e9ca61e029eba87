/** Opens (creating if needed) the KV bucket of compiled links and domains. */
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsNames } from './subjects.js';

export async function openLinksBucket(nc: NatsConnection, prefix: string, opts: { replicas?: number } = {}): Promise<KV> {
  return new Kvm(nc).create(natsNames(prefix).linksBucket, { history: 1, replicas: opts.replicas ?? 1 });
}
