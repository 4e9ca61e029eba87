import { describe, expect, it } from 'vitest';
import { domainKvKey, linkKvKey, parseKvKey, storeKey } from './link-key.js';

const NATS_KEY = /^[-/_=.a-zA-Z0-9]+$/;

describe('KV key encoding', () => {
  it.each([
    ['go.example.com', 'deal'],
    ['go.example.com', 'spring/2026'],
    ['xn--bcher-kva.de', 'café/😀'],
    ['go.example.com', 'a'.repeat(200)],
  ])('round-trips %s/%s with legal NATS key characters', (domain, path) => {
    const key = linkKvKey(domain, path);
    expect(key).toMatch(NATS_KEY);
    expect(key.startsWith('l.')).toBe(true);
    expect(parseKvKey(key)).toEqual({ kind: 'link', domain, path, storeKey: storeKey(domain, path) });
  });

  it('encodes domains under d.', () => {
    const key = domainKvKey('go.example.com');
    expect(key).toMatch(NATS_KEY);
    expect(parseKvKey(key)).toEqual({ kind: 'domain', domain: 'go.example.com' });
  });

  it('ignores keys it did not write', () => {
    expect(parseKvKey('x.abc')).toBeNull();
    expect(parseKvKey('l.')).toBeNull();
  });
});
