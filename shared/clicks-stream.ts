/**
 * The JetStream stream click batches travel on (`<prefix>_CLICKS`, subjects `<prefix>.clicks.>`).
 *
 * - Work-queue retention: a batch leaves the stream once the control plane acked it (after its
 *   Postgres commit), so `maxBytes` bounds the *unconsumed backlog*, not history.
 * - Discard new: when the backlog is full, publishes fail and nodes keep the batches in their
 *   spools (bounded by CLICK_SPOOL_MAX_MB) — nothing already accepted is ever evicted.
 * - `duplicateWindowMs`: a batch re-sent with the same `Nats-Msg-Id` inside the window is stored
 *   once; after it, ingest still stores each click once (click id = primary key).
 *
 * The control plane owns the settings (creates or updates); a node only creates the stream with
 * defaults when it does not exist yet, so a node starting first can ship.
 */
import {
  DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { natsNames } from './subjects.js';

export interface ClicksStreamOptions {
  replicas: number;
  /** Longest a batch waits for ingest before JetStream drops it. */
  maxAgeMs: number;
  /** Largest unconsumed backlog; past it publishes are refused (nodes spool). */
  maxBytes: number;
  duplicateWindowMs: number;
}

export const CLICKS_STREAM_DEFAULTS: ClicksStreamOptions = {
  replicas: 1,
  maxAgeMs: 7 * 24 * 3_600_000,
  maxBytes: 2 * 1024 ** 3,
  duplicateWindowMs: 120_000,
};

/** Largest click batch message (bytes): well under the NATS server's default 1 MB payload limit. */
export const CLICK_BATCH_MAX_BYTES = 512 * 1024;

function configOf(prefix: string, o: ClicksStreamOptions) {
  const names = natsNames(prefix);
  return {
    name: names.clicksStream,
    subjects: [names.clicksSubjects],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_bytes: o.maxBytes,
    max_age: nanos(o.maxAgeMs),
    duplicate_window: nanos(Math.min(o.duplicateWindowMs, o.maxAgeMs)),
    num_replicas: o.replicas,
    max_msg_size: CLICK_BATCH_MAX_BYTES * 2,
  };
}

const isNotFound = (err: unknown): boolean => err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound;

/**
 * Makes sure the clicks stream exists. `mode: 'own'` (control plane) also brings an existing
 * stream's limits in line with `opts`; `mode: 'use'` (node) never changes an existing stream.
 */
export async function ensureClicksStream(
  jsm: JetStreamManager,
  prefix: string,
  opts: Partial<ClicksStreamOptions> = {},
  mode: 'own' | 'use' = 'own',
): Promise<StreamInfo> {
  const want = configOf(prefix, { ...CLICKS_STREAM_DEFAULTS, ...opts });
  let info: StreamInfo | null = null;
  try {
    info = await jsm.streams.info(want.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  if (!info) {
    try {
      return await jsm.streams.add(want);
    } catch (err) {
      // created concurrently by another process: use that one
      info = await jsm.streams.info(want.name).catch(() => {
        throw err;
      });
      if (mode === 'use') return info;
    }
  }
  if (mode === 'use') return info;
  const c = info.config;
  const same =
    c.max_bytes === want.max_bytes &&
    c.max_age === want.max_age &&
    c.duplicate_window === want.duplicate_window &&
    c.num_replicas === want.num_replicas &&
    c.discard === want.discard &&
    c.max_msg_size === want.max_msg_size;
  if (same) return info;
  const { name: _name, retention: _retention, storage: _storage, ...limits } = want;
  return jsm.streams.update(want.name, { ...limits, subjects: c.subjects });
}
