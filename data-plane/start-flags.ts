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

/**
 * The environment every start of the node sets, for the C library (read before any JavaScript runs,
 * so it too belongs to the start command).
 *
 * `MALLOC_ARENA_MAX=2`: glibc gives each thread that allocates its own malloc arena (up to 8 per
 * core), and a thread's arena keeps what it once held: the sync thread's replay, the click work on
 * the main thread, the serving threads, lmdb-js and libuv's pool each kept their own. Two arenas:
 * 12–28 MB less RSS besides the map after a replay (docs/performance.md, issue 13).
 */
export const NODE_START_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The start flags missing from `execArgv` (a node started by hand without them: main.ts warns). */
export function missingStartFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return NODE_START_FLAGS.filter((f) => !execArgv.includes(f));
}
