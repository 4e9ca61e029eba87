/** Vitest global setup: compile once so tests start the same JS that production runs. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './process.js';

export default function setup(): void {
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
}
