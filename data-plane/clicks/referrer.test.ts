import { describe, expect, it } from 'vitest';
import { referrerHost } from './referrer.js';

describe('referrer host', () => {
  const cases: [string, string | null][] = [
    ['https://news.ycombinator.com/item?id=1', 'news.ycombinator.com'],
    ['https://WWW.Google.COM/search?q=secret+stuff#frag', 'www.google.com'],
    ['http://user:pass@example.com:8080/private/path', 'example.com'],
    ['https://t.co', 't.co'],
    ['https://example.com.', 'example.com'],
    ['https://[2001:db8::1]:443/x', '[2001:db8::1]'],
    ['android-app://com.google.android.gm/', 'com.google.android.gm'],
    ['https://evil.example\\@good.example/', 'evil.example'],
    ['', null],
    ['not a url', null],
    ['/relative/path', null],
    ['https:///nohost', null],
    ['https://exa mple.com/', null],
    ['https://ex<ample.com/', null],
    [`https://${'a'.repeat(300)}.com/`, null],
  ];
  for (const [header, host] of cases) {
    it(`${JSON.stringify(header.slice(0, 60))} → ${host}`, () => expect(referrerHost(header)).toBe(host));
  }
});
