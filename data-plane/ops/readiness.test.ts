/** /readyz from the shared gauges: status, reason and detail lines, case by case. */
import { describe, expect, it } from 'vitest';
import { caughtUp, readiness } from './readiness.js';
import { SharedState, type GaugeName } from './shared-state.js';

function stateWith(gauges: Partial<Record<GaugeName, number>>): SharedState {
  const s = SharedState.create(1);
  s.set('ready', 1);
  for (const [k, v] of Object.entries(gauges)) s.set(k as GaugeName, v);
  return s;
}

const cases: { name: string; gauges: Partial<Record<GaugeName, number>>; ready: boolean; caughtUp: boolean; text: string }[] = [
  { name: 'healthy', gauges: {}, ready: true, caughtUp: true, text: 'ready\n' },
  {
    name: 'first sync not done', gauges: { ready: 0 }, ready: false, caughtUp: false,
    text: 'not ready: initial sync not done: the replica has not caught up with the links stream yet\n',
  },
  { name: 'draining', gauges: { draining: 1 }, ready: false, caughtUp: true, text: 'not ready: draining (stopping)\n' },
  {
    name: 'stalled with store writes failing', gauges: { sync_stalled: 1, store_writes_failing: 1, applied_seq: 10, stream_seq: 25 }, ready: false, caughtUp: false,
    text: 'not ready: store writes failing (disk full or unwritable under LMDB_PATH?): replica 15 updates behind the stream for longer than SYNC_MAX_BEHIND_MS\n',
  },
  {
    name: 'stalled, writes not failing', gauges: { sync_stalled: 1, applied_seq: 10, stream_seq: 12 }, ready: false, caughtUp: false,
    text: 'not ready: replica 2 updates behind the stream for longer than SYNC_MAX_BEHIND_MS\n',
  },
  { name: 'writes failing, still within the bound', gauges: { store_writes_failing: 1 }, ready: true, caughtUp: true, text: 'ready\nstore writes failing: retrying\n' },
  {
    name: 'click spool not writable: a detail, still ready', gauges: { click_spool_failing: 1, clicks_held: 3000, click_backlog_bytes: 1.5 * 1024 * 1024, clicks_dropped: 7 }, ready: true, caughtUp: true,
    text: 'ready\nclick spool not writable (CLICK_DIR full?): 3000 clicks held in memory, backlog 1.5 MB of CLICK_BACKLOG_MAX_MB; clicks dropped so far: 7\n',
  },
];

describe('readiness', () => {
  cases.forEach((c) => {
    it(c.name, () => {
      const s = stateWith(c.gauges);
      expect(readiness(s)).toEqual({ ready: c.ready, text: c.text });
      expect(caughtUp(s)).toBe(c.caughtUp);
    });
  });
});
