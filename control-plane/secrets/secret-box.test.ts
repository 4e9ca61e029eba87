import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/index.js';
import { generateSecretsKey, isSealed, keyIdOf, openStored, secretBoxFrom, SecretBox, SecretBoxError } from './secret-box.js';

const K1 = Buffer.alloc(32, 1).toString('base64');
const K2 = Buffer.alloc(32, 2).toString('base64');
const SEALED = /^lpsec1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

describe('SecretBox (AES-256-GCM envelope)', () => {
  const box = secretBoxFrom({ SECRETS_KEY: K1 });
  const secret = 'whsec_' + randomBytes(24).toString('base64');

  it('seals as lpsec1.<kid>.<wrapped DEK>.<ciphertext> and opens back', () => {
    const s = box.seal(secret, 'webhook_secrets:whk_1');
    expect(s).toMatch(SEALED);
    expect(s.split('.')[1]).toBe(keyIdOf(Buffer.alloc(32, 1)));
    expect(s.startsWith(box.currentPrefix)).toBe(true);
    expect(s).not.toContain(secret);
    expect(s).not.toContain(secret.slice(6, 20));
    expect(box.open(s, 'webhook_secrets:whk_1')).toBe(secret);
    expect(isSealed(s)).toBe(true);
    expect(isSealed(secret)).toBe(false);
  });

  it('a fresh data key and IV per value: sealing twice gives different text', () => {
    const a = box.seal(secret, 'c');
    const b = box.seal(secret, 'c');
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('a value copied onto another row (another context) does not open', () => {
    const s = box.seal(secret, 'jobs:job_A');
    expect(() => box.open(s, 'jobs:job_B')).toThrow(SecretBoxError);
  });

  it('a damaged value does not open', () => {
    const s = box.seal(secret, 'c');
    const [v, kid, wrapped, ct] = s.split('.') as [string, string, string, string];
    const flip = (t: string) => (t[5] === 'A' ? `${t.slice(0, 5)}B${t.slice(6)}` : `${t.slice(0, 5)}A${t.slice(6)}`);
    expect(() => box.open([v, kid, flip(wrapped), ct].join('.'), 'c')).toThrow(SecretBoxError);
    expect(() => box.open([v, kid, wrapped, flip(ct)].join('.'), 'c')).toThrow(SecretBoxError);
    expect(() => box.open('not sealed', 'c')).toThrow('not a sealed value');
  });

  it('rotation: the new key seals, old keys (SECRETS_KEYS_OLD) still open; an unknown key id is named', () => {
    const old = box.seal(secret, 'c');
    const rotated = secretBoxFrom({ SECRETS_KEY: K2, SECRETS_KEYS_OLD: ` ${K1} ` });
    expect(rotated.open(old, 'c')).toBe(secret);
    const fresh = rotated.seal(secret, 'c');
    expect(fresh.split('.')[1]).toBe(keyIdOf(Buffer.alloc(32, 2)));
    expect(rotated.current.kid).not.toBe(box.current.kid);
    const without = secretBoxFrom({ SECRETS_KEY: K2 });
    expect(() => without.open(old, 'c')).toThrow(`sealed under key id ${box.current.kid}, which neither SECRETS_KEY nor SECRETS_KEYS_OLD holds`);
  });

  it('openStored takes a plaintext value from before sealing as is', () => {
    expect(openStored(box, secret, 'c')).toBe(secret);
    expect(openStored(box, box.seal(secret, 'c'), 'c')).toBe(secret);
  });

  it('openCached opens once per (value, context) and still refuses another context', () => {
    const s = box.seal(secret, 'webhook_secrets:whk_9');
    expect(openStored(box, s, 'webhook_secrets:whk_9', true)).toBe(secret);
    expect(box.openCached(s, 'webhook_secrets:whk_9')).toBe(secret);
    expect(() => box.openCached(s, 'webhook_secrets:whk_8')).toThrow(SecretBoxError);
  });

  it('SECRETS_KEY is required and must be 32 bytes of base64; the message names the variable', () => {
    const problem = (cfg: Parameters<typeof secretBoxFrom>[0]) => {
      try {
        secretBoxFrom(cfg);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problem({})).toEqual([
      'SECRETS_KEY is required: 32 random bytes, base64-encoded, that seal webhook and callback secrets at rest (generate one with: openssl rand -base64 32)',
    ]);
    expect(problem({ SECRETS_KEY: Buffer.alloc(16).toString('base64') })).toEqual([
      'SECRETS_KEY must be 32 random bytes, base64-encoded (generate one with: openssl rand -base64 32)',
    ]);
    expect(problem({ SECRETS_KEY: 'change-me openssl rand' })).toEqual([
      'SECRETS_KEY must be 32 random bytes, base64-encoded (generate one with: openssl rand -base64 32)',
    ]);
    expect(problem({ SECRETS_KEY: K1, SECRETS_KEYS_OLD: `${K2},short` })).toEqual([
      'SECRETS_KEYS_OLD[1] must be 32 random bytes, base64-encoded (generate one with: openssl rand -base64 32)',
    ]);
    expect(Buffer.from(generateSecretsKey(), 'base64')).toHaveLength(32);
    expect(() => new SecretBox({ kid: 'x', key: Buffer.alloc(8) })).toThrow('must be 32 bytes');
  });
});
