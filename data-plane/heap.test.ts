import { describe, expect, it } from 'vitest';
import { collectGarbage } from './heap.js';

describe('collectGarbage', () => {
  it('collects what is unreachable, without the --expose-gc start flag', async () => {
    expect(process.execArgv).not.toContain('--expose-gc');
    const ref = (() => new WeakRef({ buffer: new Array(100_000).fill(1) }))();
    await new Promise((r) => setTimeout(r, 0)); // a WeakRef's target lives to the end of the job that made it
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
    collectGarbage(); // again: the function is taken once
  });
});
