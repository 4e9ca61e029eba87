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

/**
 * Every line carries `level` as pino's label (`"trace"`, `"debug"`, `"info"`, `"warn"`, `"error"`,
 * `"fatal"`), not its number, so log pipelines need no mapping table.
 */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevelLabel = (typeof LOG_LEVELS)[number];

/** Rank of a level label (trace 0 … fatal 5); -1 for anything else — for filtering parsed lines. */
export const levelRank = (label: unknown): number => LOG_LEVELS.indexOf(label as LogLevelLabel);

export function createLogger(opts: { name: string; level?: string } & LoggerOptions): Logger {
  const { name, level = 'info', ...rest } = opts;
  return pino({
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...rest,
    formatters: { level: (label) => ({ level: label }), ...rest.formatters },
  });
}
