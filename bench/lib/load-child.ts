/**
 * Entry of the load-generator process (started by load.ts, pinned to the client core): receives
 * one LoadSpec over IPC, runs it, sends the LoadResult back and exits.
 */
import { runAutocannon } from './autocannon-load.js';
import { runLoad, type LoadSpec } from './http-load.js';

process.once('message', (spec: LoadSpec) => {
  (spec.client === 'autocannon' ? runAutocannon(spec) : runLoad(spec)).then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }, () => process.exit(1)),
  );
});
