/**
 * What /readyz answers, from the shared gauges alone (any serving thread can answer it). A node is
 * ready when its replica has caught up (initial sync done) and is not stalled behind the stream
 * (store writes failing, SYNC_MAX_BEHIND_MS), and it is not draining. Until its replica is caught
 * up, a link the node does not have is answered 503 + Retry-After, not 404 (`caughtUp`).
 */
import type { SharedState } from './shared-state.js';

export interface Readiness {
  ready: boolean;
  /** The body: `ready` or `not ready: <why>`, then detail lines that do not change the status. */
  text: string;
}

/** True while a missing link may simply not have reached this node yet. */
export function caughtUp(state: SharedState): boolean {
  return state.get('ready') === 1 && state.get('sync_stalled') === 0;
}

export function readiness(state: SharedState): Readiness {
  const why: string[] = [];
  if (state.get('draining') === 1) why.push('draining (stopping)');
  if (state.get('ready') === 0) why.push('initial sync not done: the replica has not caught up with the links stream yet');
  if (state.get('sync_stalled') === 1) {
    const lag = Math.max(0, state.get('stream_seq') - state.get('applied_seq'));
    why.push(state.get('store_writes_failing') === 1
      ? `store writes failing (disk full or unwritable under LMDB_PATH?): replica ${lag} updates behind the stream for longer than SYNC_MAX_BEHIND_MS`
      : `replica ${lag} updates behind the stream for longer than SYNC_MAX_BEHIND_MS`);
  }
  const detail: string[] = [];
  if (state.get('store_writes_failing') === 1 && state.get('sync_stalled') === 0) detail.push('store writes failing: retrying');
  const head = why.length === 0 ? 'ready' : `not ready: ${why.join('; ')}`;
  return { ready: why.length === 0, text: [head, ...detail].join('\n') + '\n' };
}
