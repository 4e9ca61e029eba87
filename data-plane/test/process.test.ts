/** The node process itself: bad configuration is refused with every problem listed, exit 1. */
import { describe, expect, it } from 'vitest';
import { startProcess } from '../../shared/testing/index.js';

describe('the data-plane process', () => {
  it('refuses bad configuration, listing every problem, exit 1', async () => {
    const p = startProcess('data-plane/main.js', { PORT: 'eighty', WORKERS: '-2', TRUSTED_PROXIES: 'x', NATS_PREFIX: 'has space' });
    const { code } = await p.exited;
    expect(code).toBe(1);
    const out = p.output.join('\n');
    for (const problem of ['PORT="eighty" is not an integer', 'WORKERS="-2" is below 1', 'NATS_PREFIX="has space" must match']) expect(out).toContain(problem);
  });
});
