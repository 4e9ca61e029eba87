import { describe, expect, it } from 'vitest';
import { checkUrl, isPublicAddress } from './destination-url.js';

describe('checkUrl', () => {
  const ok = [
    'https://www.example.com/landing?sale=2026',
    'http://example.com',
    'https://xn--bcher-kva.de/path',
    'https://bücher.de/',
    'https://8.8.8.8/dns',
    'https://[2001:4860:4860::8888]/',
    'https://example.com:8443/a#frag',
  ];
  it.each(ok)('accepts %s', (url) => expect(checkUrl(url).ok).toBe(true));

  const bad: [string, string][] = [
    ['javascript:alert(1)', 'scheme_not_allowed'],
    ['JAVASCRIPT:alert(1)', 'scheme_not_allowed'],
    ['data:text/html;base64,PHNjcmlwdD4=', 'scheme_not_allowed'],
    ['file:///etc/passwd', 'scheme_not_allowed'],
    ['ftp://example.com/', 'scheme_not_allowed'],
    ['//example.com/', 'invalid_url'],
    ['/relative', 'invalid_url'],
    ['not a url', 'invalid_url'],
    [' https://example.com/', 'invalid_url'],
    ['https://user:pass@example.com/', 'credentials_not_allowed'],
    ['https://user@example.com/', 'credentials_not_allowed'],
    ['https://exa\u0000mple.com/', 'control_character'],
    ['https://example.com/\n', 'control_character'],
    ['http://127.0.0.1/', 'private_address'],
    ['http://2130706433/', 'private_address'], // decimal
    ['http://0x7f000001/', 'private_address'], // hex
    ['http://0177.0.0.1/', 'private_address'], // octal
    ['http://127.1/', 'private_address'], // short form
    ['http://10.0.0.5/', 'private_address'],
    ['http://172.16.3.4/', 'private_address'],
    ['http://192.168.1.1/', 'private_address'],
    ['http://169.254.169.254/latest/meta-data', 'private_address'], // cloud metadata
    ['http://100.64.0.1/', 'private_address'], // carrier-grade NAT
    ['http://0.0.0.0/', 'private_address'],
    ['http://[::1]/', 'private_address'],
    ['http://[::ffff:127.0.0.1]/', 'private_address'],
    ['http://[::ffff:7f00:1]/', 'private_address'],
    ['http://[fe80::1]/', 'private_address'],
    ['http://[fc00::1]/', 'private_address'],
    ['http://localhost/', 'private_address'],
    ['http://LOCALHOST./', 'private_address'],
    ['http://api.localhost/', 'private_address'],
    ['https://' + 'a'.repeat(5000) + '.com/', 'too_long'],
  ];
  it.each(bad)('rejects %s as %s', (url, problem) => {
    const r = checkUrl(url);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toBe(problem);
  });

  it('allows private addresses when the policy says so (dev and tests)', () => {
    expect(checkUrl('http://127.0.0.1:9999/hook', { allowPrivate: true }).ok).toBe(true);
  });

  it('returns the canonical form', () => {
    expect(checkUrl('HTTPS://Example.COM')).toEqual({ ok: true, url: 'https://example.com/' });
  });
});

describe('isPublicAddress', () => {
  it.each([
    ['8.8.8.8', true],
    ['1.1.1.1', true],
    ['2606:4700:4700::1111', true],
    ['127.0.0.1', false],
    ['10.1.2.3', false],
    ['::1', false],
    ['::ffff:10.0.0.1', false],
    ['169.254.169.254', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['not-an-ip', false],
  ])('%s → %s', (ip, expected) => expect(isPublicAddress(ip)).toBe(expected));
});
