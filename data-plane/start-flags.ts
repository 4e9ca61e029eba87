/**
 * The V8 flags every start of the redirect node passes: `npm run data-plane`, the container
 * commands (deploy/compose, deploy/k8s), the all-in-one launcher and the bench. V8 reads them
 * before any JavaScript runs (set at run time, `--single-threaded-gc` aborts the process), so the
 * start command carries them; start-flags.test.ts checks each of those commands.
 *
 * `--single-threaded-gc`: V8's parallel GC helper threads would only compete with the serving
 * threads (one per CPU by default) for the same CPUs, and a scavenge that waits for helpers which
 * cannot run stalls every request behind it (docs/performance.md: the p99.9 at 10 k req/s).
 */
export const NODE_START_FLAGS: readonly string[] = ['--single-threaded-gc'];

/** The start flags missing from `execArgv` (a node started by hand without them: main.ts warns). */
export function missingStartFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return NODE_START_FLAGS.filter((f) => !execArgv.includes(f));
}
