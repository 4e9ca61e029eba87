import { describe, expect, it } from 'vitest';
import { normalizeHostname, requestHost } from './hostname.js';

describe('normalizeHostname', () => {
  it.each([
    ['go.example.com', 'go.example.com'],
    ['GO.Example.COM', 'go.example.com'],
    ['go.example.com.', 'go.example.com'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['a-b.c-d.io', 'a-b.c-d.io'],
  ])('%s → %s', (raw, expected) => expect(normalizeHostname(raw)).toBe(expected));

  it.each(['localhost', 'go.example.com:8080', 'https://go.example.com', 'go.example.com/x', 'user@go.example.com', '-bad.example.com',
    'bad-.example.com', '127.0.0.1', '[::1]', '', 'a b.com', 'exa_mple.com', `${'a'.repeat(64)}.com`])('rejects %j', (raw) =>
    expect(normalizeHostname(raw)).toBeNull());
});

describe('requestHost', () => {
  it.each([
    ['go.example.com', 'go.example.com'],
    ['Go.Example.com:8081', 'go.example.com'],
    ['go.example.com.', 'go.example.com'],
    ['[::1]:8081', '[::1]:8081'],
    ['[::ABCD]:80', '[::abcd]:80'],
    ['GO.EXAMPLE.COM', 'go.example.com'],
    ['go.example.com:8O', 'go.example.com'],
    ['a.example:80:90', 'a.example:80'],
    [':80', ''],
    ['', ''],
  ])('%j → %j', (raw, expected) => expect(requestHost(raw)).toBe(expected));
});
