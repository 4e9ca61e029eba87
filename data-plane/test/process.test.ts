/**
 * The node process itself: bad configuration is refused with every problem listed, exit 1; a
 * node that started logs pino's level labels (from the main thread and its worker threads).
 */
import { describe, expect, it } from 'vitest';
import { LOG_LEVELS, type LogLevelLabel } from '../../shared/index.js';
import { cleanupNatsPrefix, startProcess, testPrefix, TEST_NATS_URL } from '../../shared/testing/index.js';
import { startTestNode } from './harness.js';

describe('the data-plane process', () => {
  it('refuses bad configuration, listing every problem, exit 1', async () => {
    const p = startProcess('data-plane/main.js', { PORT: 'eighty', WORKERS: '-2', TRUSTED_PROXIES: 'x', NATS_PREFIX: 'has space' });
    const { code } = await p.exited;
    expect(code).toBe(1);
    const out = p.output.join('\n');
    for (const problem of ['PORT="eighty" is not an integer', 'WORKERS="-2" is below 1', 'NATS_PREFIX="has space" must match']) expect(out).toContain(problem);
  });

  it('logs JSON lines whose level is a label (info, warn, …), never a number', async () => {
    const prefix = testPrefix('dplog');
    const node = await startTestNode({ natsUrl: TEST_NATS_URL, prefix, env: { LOG_LEVEL: 'debug' } });
    try {
      await node.stop();
      const logs = node.proc.logs();
      expect(logs.length).toBeGreaterThan(3);
      expect(logs.filter((l) => !LOG_LEVELS.includes(l.level as LogLevelLabel))).toEqual([]);
      expect(logs.find((l) => l.msg === 'node is ready')?.level).toBe('info');
      expect(logs.find((l) => l.msg === 'visitor salt set')?.level).toBe('debug');
      expect(logs.at(-1)).toMatchObject({ msg: 'stopped', level: 'info' });
    } finally {
      await node.destroy();
      await cleanupNatsPrefix(prefix);
    }
  }, 60_000);
});
