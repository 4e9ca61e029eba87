/**
 * Configuration is read once, from the environment, against a schema per process.
 * A bad value stops the process with every problem listed (see `loadConfig`).
 * Nothing else in the product reads `process.env`.
 */

type Kind = 'string' | 'int' | 'number' | 'bool' | 'url' | 'list';

interface VarSpec<K extends Kind = Kind> {
  kind: K;
  /** Default when unset or empty. `undefined` with `required` → error. */
  default?: unknown;
  required?: boolean;
  min?: number;
  max?: number;
  /** Allowed values for strings. */
  oneOf?: readonly string[];
  /** URL protocols allowed for `url` vars. */
  protocols?: readonly string[];
  /** Regex a string must match. */
  pattern?: RegExp;
  /** Marks a secret: never printed in errors. */
  secret?: boolean;
  /**
   * How docs/configuration.md shows the default when it is worked out at start (from the host, the
   * CPUs, another variable) or checked outside the schema: the generated page must not depend on
   * the machine that generates it.
   */
  defaultDoc?: string;
  doc: string;
}

type ValueOf<S extends VarSpec> = S['kind'] extends 'int' | 'number'
  ? number
  : S['kind'] extends 'bool'
    ? boolean
    : S['kind'] extends 'list'
      ? string[]
      : string;

export type ConfigSchema = Record<string, VarSpec>;
export type ConfigOf<S extends ConfigSchema> = {
  readonly [K in keyof S]: S[K]['required'] extends true
    ? ValueOf<S[K]>
    : S[K] extends { default: NonNullable<unknown> }
      ? ValueOf<S[K]>
      : ValueOf<S[K]> | undefined;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function parseOne(name: string, spec: VarSpec, raw: string | undefined, problems: string[]): unknown {
  if (raw === undefined || raw === '') {
    if (spec.default !== undefined) return spec.default;
    if (spec.required) problems.push(`${name} is required (${spec.doc})`);
    return undefined;
  }
  const shown = spec.secret ? '<redacted>' : JSON.stringify(raw);
  switch (spec.kind) {
    case 'int':
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n) || (spec.kind === 'int' && !Number.isInteger(n))) {
        problems.push(`${name}=${shown} is not ${spec.kind === 'int' ? 'an integer' : 'a number'}`);
        return undefined;
      }
      if (spec.min !== undefined && n < spec.min) problems.push(`${name}=${shown} is below ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) problems.push(`${name}=${shown} is above ${spec.max}`);
      return n;
    }
    case 'bool': {
      const v = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      problems.push(`${name}=${shown} is not a boolean (true/false)`);
      return undefined;
    }
    case 'url': {
      try {
        const u = new URL(raw);
        if (spec.protocols && !spec.protocols.includes(u.protocol.slice(0, -1))) {
          problems.push(`${name}=${shown} must use ${spec.protocols.join(' or ')}`);
        }
        return raw;
      } catch {
        problems.push(`${name}=${shown} is not a URL`);
        return undefined;
      }
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    case 'string': {
      if (spec.oneOf && !spec.oneOf.includes(raw)) {
        problems.push(`${name}=${shown} must be one of ${spec.oneOf.join(', ')}`);
      }
      if (spec.pattern && !spec.pattern.test(raw)) problems.push(`${name}=${shown} must match ${spec.pattern}`);
      return raw;
    }
  }
}

/** Validates `env` against `schema`; throws one ConfigError listing every problem. */
export function loadConfig<S extends ConfigSchema>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    out[name] = parseOne(name, spec, env[name], problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every process shares. */
export const commonSchema = {
  NATS_URL: { kind: 'string', default: 'nats://127.0.0.1:4222', doc: 'NATS server(s), comma-separated' },
  NATS_PREFIX: {
    kind: 'string', default: 'lp', pattern: /^[A-Za-z0-9_-]{1,32}$/,
    doc: 'prefix of every NATS stream, bucket and subject (isolates tenants and tests)',
  },
  LOG_LEVEL: { kind: 'string', default: 'info', oneOf: LOG_LEVELS, doc: 'pino log level' },
} as const satisfies ConfigSchema;
