import { describe, expect, it } from 'vitest';
import { DECISION_SAMPLE, LATENCY_BUCKETS, RequestRecorder, SharedState, WORKER_OFFSETS } from './shared-state.js';

describe('RequestRecorder', () => {
  it('times one decision in DECISION_SAMPLE, and the histogram holds exactly the timed ones', () => {
    const state = SharedState.create(2);
    const r = new RequestRecorder(state, 1);
    let timed = 0;
    for (let i = 0; i < 10 * DECISION_SAMPLE; i++) {
      r.status(302);
      if (r.timed()) {
        timed++;
        r.latency(0.003); // 3 µs
      }
    }
    expect(timed).toBe(10);
    expect(state.sum(WORKER_OFFSETS.W_STATUS + 2)).toBe(10 * DECISION_SAMPLE); // 302: every request counted
    expect(state.sum(WORKER_OFFSETS.W_COUNT)).toBe(10);
    const bucket = LATENCY_BUCKETS.findIndex((le) => le >= 0.000003);
    expect(state.sum(WORKER_OFFSETS.W_BUCKETS + bucket)).toBe(10);
    expect(state.sum(WORKER_OFFSETS.W_SUM)).toBeCloseTo(10 * 0.000003, 12);
  });
});
