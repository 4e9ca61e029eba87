/**
 * Vitest global setup: compile once so tests start the same JS that production runs, and bundle the
 * admin console into dist/ui as `npm run build` does (control planes started by tests serve it).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { buildConsole } from '../../scripts/build-console.js';
import { REPO_ROOT } from './process.js';

export default async function setup(): Promise<void> {
  if (process.env.LP_SKIP_BUILD === '1') return;
  try {
    execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
      cwd: REPO_ROOT,
      stdio: 'pipe',
    });
  } catch (err) {
    // tsc still emits on type errors; typecheck is its own CI step. Surface the message anyway.
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
    process.stderr.write(`tsc reported problems (build still emitted):\n${out}\n`);
  }
  await buildConsole(join(REPO_ROOT, 'dist', 'ui'));
}
