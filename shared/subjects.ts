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
  /**
   * Live copies of link/domain updates on core NATS (no JetStream, no stream leader): the relay
   * publishes each outbox row as `<prefix>.links.live.<kv key>` besides the KV put, and nodes apply
   * it at once when it is newer than what they hold. The KV bucket stays the source of truth.
   */
  readonly linksLiveSubjectPrefix: string;
  /** Subject filter covering every live update (`<prefix>.links.live.>`). */
  readonly linksLiveSubjects: string;
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
    linksLiveSubjectPrefix: `${prefix}.links.live.`,
    linksLiveSubjects: `${prefix}.links.live.>`,
    clicksStream: `${prefix}_CLICKS`,
    clicksSubjects: `${prefix}.clicks.>`,
    clicksIngestConsumer: `${prefix}_clicks_ingest`,
    clickSaltsBucket: `${prefix}_click_salts`,
    clicksSubject: (nodeId: string) => `${prefix}.clicks.${nodeId}`,
  };
}

/**
 * Header carrying the outbox sequence of the row a KV write or live update came from. Per key it
 * grows in commit order (writers of one key hold its row lock), so it orders a live update against
 * the KV entries of the same key.
 */
export const OUTBOX_SEQ_HEADER = 'Lp-Outbox-Seq';
/** JetStream KV's operation header (`DEL`/`PURGE`; absent on a put); live updates use it the same way. */
export const KV_OPERATION_HEADER = 'KV-Operation';
