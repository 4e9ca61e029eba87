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

try {
  const node = await startNode(config, log);
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
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
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
} catch (err) {
  log.fatal({ err }, 'node failed to start');
  process.exitCode = 1;
}
