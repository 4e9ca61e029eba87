import { describe, expect, it } from 'vitest';
import { utmSnapshot } from './utm-snapshot.js';

describe('UTM snapshot of the destination', () => {
  const cases: [string, Record<string, string> | null][] = [
    ['https://example.org/landing', null],
    ['https://example.org/?a=1&b=2', null],
    ['https://example.org/?utm_source=news&utm_medium=email&x=1', { source: 'news', medium: 'email' }],
    ['https://example.org/?utm_campaign=spring%20sale&utm_term=a+b&utm_content=c#top', { campaign: 'spring sale', term: 'a b', content: 'c' }],
    ['https://example.org/?utm_source=first&utm_source=second', { source: 'first' }],
    ['https://example.org/?utm_unknown=x&utm_source=', { source: '' }],
    ['https://example.org/?utm_source=%E0%A4%A', { source: '%E0%A4%A' }],
    ['https://example.org/#utm_source=fragment', null],
    ['https://example.org/?q=utm_source&xutm_medium=1&utm_source=a', { source: 'a' }],
    ['https://example.org/?utm_source=a%01b%7F', { source: 'ab' }],
    ['https://example.org/?utm_medium', { medium: '' }],
    ['https://example.org/?a=1#x&utm_source=frag', null],
    [`https://example.org/?utm_term=${'x'.repeat(300)}`, { term: 'x'.repeat(200) }],
  ];
  for (const [url, want] of cases) {
    it(url, () => expect(utmSnapshot(url)).toBe(want === null ? null : JSON.stringify(want)));
  }
});
