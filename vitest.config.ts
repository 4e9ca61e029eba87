import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // the repository runs the SDK from its sources (sdk/dist is only built for publishing)
  resolve: { alias: [{ find: /^@linkplane\/sdk$/, replacement: fileURLToPath(new URL('./sdk/src/index.ts', import.meta.url)) }] },
  test: {
    include: ['shared/**/*.test.ts', 'control-plane/**/*.test.ts', 'data-plane/**/*.test.ts', 'bench/**/*.test.ts', 'deploy/**/*.test.ts', 'examples/**/*.test.ts', 'sdk/**/*.test.ts', 'cli/**/*.test.ts', 'console/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '.data/**', 'sdk/dist/**', 'cli/dist/**'],
    globalSetup: ['shared/testing/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // every process a test starts binds its operations port (/metrics) to a free port unless the
    // test names one: files run in parallel, and the defaults (9080, 9081) would collide
    env: { OPS_PORT: '0', API_OPS_PORT: '0', REDIRECT_OPS_PORT: '0' },
  },
});
