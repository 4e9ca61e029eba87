/**
 * `npm run data-plane`: read the config once, refuse to run without native uWebSockets.js, start
 * the node, stop it cleanly on SIGTERM/SIGINT (drain, flush, exit 0).
 */
import { ConfigError, createLogger } from '../shared/index.js';
import { loadDataPlaneConfig, type DataPlaneConfig } from './config.js';
import { loadNativeUws, NativeUwsError } from './native-uws.js';
import { startNode } from './node.js';

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

// handlers first: the serving threads answer before startNode() returns
let stopRequested: NodeJS.Signals | null = null;
let stop: ((signal: NodeJS.Signals) => void) | null = null;
const onSignal = (signal: NodeJS.Signals) => {
  if (stopRequested) return;
  stopRequested = signal;
  stop?.(signal);
};
process.once('SIGTERM', onSignal);
process.once('SIGINT', onSignal);

try {
  const node = await startNode(config, log);
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
  log.fatal({ err }, 'node failed to start');
  process.exitCode = 1;
}
