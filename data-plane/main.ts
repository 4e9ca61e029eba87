/**
 * `npm run data-plane`: read the config once, refuse to run without native uWebSockets.js, start
 * the node, stop it cleanly on SIGTERM/SIGINT (drain, flush, exit 0). A start that fails exits 1
 * at once with the cause on stderr; a signal during the start stops it (exit 0).
 */
import { ConfigError, createLogger, errorChain } from '../shared/index.js';
import { loadDataPlaneConfig, type DataPlaneConfig } from './config.js';
import { loadNativeUws, NativeUwsError } from './native-uws.js';
import { StartAborted, startNode } from './node.js';
import { missingStartFlags, NODE_START_FLAGS } from './start-flags.js';

let config: DataPlaneConfig;
try {
  config = loadDataPlaneConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`data-plane: ${err.message}\n`);
  process.exit(1);
}

const log = createLogger({ name: 'data-plane', level: config.LOG_LEVEL }).child({ node: config.NODE_ID });

try {
  loadNativeUws();
} catch (err) {
  if (!(err instanceof NativeUwsError)) throw err;
  log.fatal({ err }, 'refusing to start');
  process.stderr.write(`data-plane: ${err.message}\n`);
  process.exit(1);
}

// handlers first: the serving threads answer before startNode() returns; a signal during the start
// interrupts it (startNode stops what it had started)
let stopRequested: NodeJS.Signals | null = null;
let stop: ((signal: NodeJS.Signals) => void) | null = null;
const starting = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (stopRequested) return;
  stopRequested = signal;
  if (stop) stop(signal);
  else starting.abort(new StartAborted(signal));
};
process.once('SIGTERM', onSignal);
process.once('SIGINT', onSignal);

log.info({ workers: config.WORKERS, store: config.LMDB_PATH }, 'starting');
const missing = missingStartFlags();
if (missing.length > 0) {
  log.warn({ missing }, `started without ${missing.join(' ')}: start the node as \`node ${NODE_START_FLAGS.join(' ')} dist/data-plane/main.js\` (npm run data-plane and the deploy files do)`);
}
try {
  const node = await startNode(config, log, starting.signal);
  stop = (signal) => {
    log.info({ signal }, 'draining');
    node.stop().then(
      () => {
        log.info('stopped');
        process.exitCode = 0;
      },
      (err: unknown) => {
        log.error({ err }, 'unclean stop');
        process.exitCode = 1;
      },
    );
  };
  if (stopRequested) stop(stopRequested);
} catch (err) {
  if (err instanceof StartAborted) {
    log.info({ signal: err.signal }, 'stopped while starting');
    process.exit(0);
  }
  // exit now, whatever handle might still be open: a node that cannot serve must not linger
  log.fatal({ err }, 'node failed to start');
  process.stderr.write(`data-plane: node failed to start: ${errorChain(err)}\n`);
  process.exit(1);
}
