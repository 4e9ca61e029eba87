/**
 * Where a node's sync starts, decided purely from what the store remembers and what the stream
 * holds now. Resuming is only safe when the stream still holds every message after the stored
 * sequence: same bucket, same stream incarnation, nothing removed past that point.
 */
import type { StoreMeta } from '../store/writer.js';

export interface StreamFacts {
  /** ISO creation time of the stream (changes when the bucket is deleted and recreated). */
  created: string;
  firstSeq: number;
  lastSeq: number;
  messages: number;
  /** Distinct keys in the stream, live or tombstoned (null if the server does not say). */
  subjects: number | null;
}

export type SyncPlan =
  | { kind: 'resume'; fromSeq: number }
  | { kind: 'replay'; reason: 'empty_store' | 'other_bucket' | 'format_changed' | 'stream_recreated' | 'stream_behind_store' | 'sequence_gone' | 'keys_gone' };

/**
 * `storedKeys`: links + domains in the store. Every key a node stored still has a message in the
 * bucket (its value, a newer value or a delete marker) unless something outside the KV protocol
 * removed it (a stream purge, tombstone cleanup, limits): more stored keys than subjects in the
 * stream means such a removal happened, even when no sequence number shows it.
 */
export function planSync(meta: StoreMeta | null, storedKeys: number, stream: StreamFacts, bucket: string, format: number): SyncPlan {
  if (meta === null) return { kind: 'replay', reason: 'empty_store' };
  if (meta.format !== format) return { kind: 'replay', reason: 'format_changed' };
  if (meta.bucket !== bucket) return { kind: 'replay', reason: 'other_bucket' };
  if (meta.streamCreated !== stream.created) return { kind: 'replay', reason: 'stream_recreated' };
  if (meta.seq > stream.lastSeq) return { kind: 'replay', reason: 'stream_behind_store' };
  // the next message we need was removed (limits, purge, tombstone cleanup): its effect is unknown
  if (meta.seq + 1 < stream.firstSeq) return { kind: 'replay', reason: 'sequence_gone' };
  if (stream.subjects !== null && storedKeys > stream.subjects) return { kind: 'replay', reason: 'keys_gone' };
  return { kind: 'resume', fromSeq: meta.seq + 1 };
}
