import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Paths that never reach a log line: API keys, webhook secrets, authorization headers. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'secret',
  'key.secret',
  'body.secret',
  '*.secret',
  '*.password',
  'password',
  'BOOTSTRAP_ADMIN_KEY',
  'config.BOOTSTRAP_ADMIN_KEY',
];

export function createLogger(opts: { name: string; level?: string } & LoggerOptions): Logger {
  const { name, level = 'info', ...rest } = opts;
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...rest,
  });
}
