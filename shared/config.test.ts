import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigSchema } from './config.js';

const schema = {
  PORT: { kind: 'int', default: 8080, min: 0, max: 65535, doc: 'port' },
  URL: { kind: 'url', required: true, protocols: ['postgres'], doc: 'db' },
  FLAG: { kind: 'bool', default: false, doc: 'flag' },
  MODE: { kind: 'string', default: 'a', oneOf: ['a', 'b'], doc: 'mode' },
  SECRET: { kind: 'string', secret: true, pattern: /^\S{8,}$/, doc: 'secret' },
  LIST: { kind: 'list', default: [], doc: 'list' },
} as const satisfies ConfigSchema;

describe('loadConfig', () => {
  it('applies defaults and parses types', () => {
    expect(loadConfig(schema, { URL: 'postgres://h/db', FLAG: 'true', LIST: 'a, b,,c' })).toEqual({
      PORT: 8080, URL: 'postgres://h/db', FLAG: true, MODE: 'a', SECRET: undefined, LIST: ['a', 'b', 'c'],
    });
  });

  it('lists every problem at once and never prints a secret', () => {
    let err: ConfigError | null = null;
    try {
      loadConfig(schema, { PORT: '70000', FLAG: 'maybe', MODE: 'c', SECRET: 'short s' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toEqual([
      'PORT="70000" is above 65535',
      'URL is required (db)',
      'FLAG="maybe" is not a boolean (true/false)',
      'MODE="c" must be one of a, b',
      'SECRET=<redacted> must match /^\\S{8,}$/',
    ]);
    expect(err!.message).not.toContain('short s');
  });
});
