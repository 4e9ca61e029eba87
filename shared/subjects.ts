/**
 * The ONLY place NATS stream, bucket, consumer and subject names are spelled.
 * Every name starts with NATS_PREFIX so several deployments (and parallel tests) share a server.
 */
export interface NatsNames {
  readonly prefix: string;
  /** KV bucket holding compiled links and domains. */
  readonly linksBucket: string;
  /** Stream behind the KV bucket (JetStream's naming: KV_<bucket>). */
  readonly linksStream: string;
  /** Subject prefix of the bucket's keys (JetStream KV's naming: `$KV.<bucket>.<key>`). */
  readonly linksKeySubjectPrefix: string;
  /** Click batches from nodes. */
  readonly clicksStream: string;
  /** Subject filter covering every node's click subject. */
  readonly clicksSubjects: string;
  /** Durable consumer the control plane ingests clicks with. */
  readonly clicksIngestConsumer: string;
  /** KV bucket of the daily visitor-hash salts nodes share (entries expire: old salts deleted). */
  readonly clickSaltsBucket: string;
  clicksSubject(nodeId: string): string;
}

export function natsNames(prefix: string): NatsNames {
  return {
    prefix,
    linksBucket: `${prefix}_links`,
    linksStream: `KV_${prefix}_links`,
    linksKeySubjectPrefix: `$KV.${prefix}_links.`,
    clicksStream: `${prefix}_CLICKS`,
    clicksSubjects: `${prefix}.clicks.>`,
    clicksIngestConsumer: `${prefix}_clicks_ingest`,
    clickSaltsBucket: `${prefix}_click_salts`,
    clicksSubject: (nodeId: string) => `${prefix}.clicks.${nodeId}`,
  };
}
