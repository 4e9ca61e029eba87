/**
 * What /readyz answers, from the shared gauges alone (any serving thread can answer it). A node is
 * ready when its replica has caught up (initial sync done) and is not stalled behind the stream
 * (store writes failing, SYNC_MAX_BEHIND_MS), and it is not draining. Until its replica is caught
 * up, a link the node does not have is answered 503 + Retry-After, not 404 (`caughtUp`).
 *
 * A click spool that cannot be written is a detail line, not a 503: the node still answers every
 * redirect right, and taking it (or, with a shared cause, every node) out of rotation would turn
 * lost analytics into lost redirects. Metrics and the log carry it for alerting.
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
  if (state.get('click_spool_failing') === 1) {
    const mb = (state.get('click_backlog_bytes') / 1024 / 1024).toFixed(1);
    detail.push(`click spool not writable (CLICK_DIR full?): ${state.get('clicks_held')} clicks held in memory, backlog ${mb} MB of CLICK_BACKLOG_MAX_MB; clicks dropped so far: ${state.get('clicks_dropped')}`);
  }
  const head = why.length === 0 ? 'ready' : `not ready: ${why.join('; ')}`;
  return { ready: why.length === 0, text: [head, ...detail].join('\n') + '\n' };
}
