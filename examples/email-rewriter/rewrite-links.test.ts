import { describe, expect, it } from 'vitest';
import { rewriteLinks } from './rewrite-links.js';

const EMAIL = `<!doctype html>
<html><head><title>Spring sale</title></head>
<body>
<!--[if mso]><v:roundrect href="https://shop.example.com/mso"></v:roundrect><![endif]-->
<table><tr><td><A HREF="https://shop.example.com/sale?a=1&amp;b=2#top" class=btn>Shop</A></td></tr></table>
<p><a href=' https://shop.example.com/sale?a=1&b=2#top '>Again</a> <a href="https://shop.example.com/new">New</a>
<a href="mailto:hi@example.com">mail</a> <a href="tel:+15551234">call</a> <a href="#top">top</a> <a href="/relative">rel</a>
<a href="https://esp.example.com/u?id=1">Unsubscribe</a> <a href="https://esp.example.com/opt-out/1">bye</a>
<a href="{{unsubscribe_url}}">x</a> <a href="*|ARCHIVE|*">archive</a>
<a href="https://go.example.com/abc">short</a> <a href="https://blog.example.com/" clicktracking=off>blog</a>
<a href="https://blog.example.com/x" data-linkplane="skip">blog</a> <a name="x">no href</a>
</body></html>`;

describe('rewriteLinks (parse5, offsets of the href attributes only)', () => {
  it('rewrites each http(s) link once per distinct URL and leaves every other byte alone', async () => {
    const asked: string[] = [];
    const r = await rewriteLinks(EMAIL, async (url) => {
      asked.push(url);
      return `https://go.example.com/s${asked.length}`;
    }, { shortDomains: ['go.example.com'] });
    expect(asked).toEqual(['https://shop.example.com/sale?a=1&b=2#top', 'https://shop.example.com/new']);
    expect(r.html).toBe(EMAIL
      .replace(`HREF="https://shop.example.com/sale?a=1&amp;b=2#top"`, 'href="https://go.example.com/s1"')
      .replace(`href=' https://shop.example.com/sale?a=1&b=2#top '`, 'href="https://go.example.com/s1"')
      .replace('href="https://shop.example.com/new"', 'href="https://go.example.com/s2"'));
    expect(r.links.map((l) => l.decision)).toEqual([
      'rewritten', 'rewritten', 'rewritten', 'not_http', 'not_http', 'not_http', 'not_http',
      'unsubscribe', 'unsubscribe', 'merge_tag', 'merge_tag', 'already_short', 'opted_out', 'opted_out',
    ]);
    // its own output has nothing left to rewrite
    const again = await rewriteLinks(r.html, async () => { throw new Error('nothing to shorten'); }, { shortDomains: ['go.example.com'] });
    expect(again.html).toBe(r.html);
  });

  it('escapes what it writes into the attribute and handles fragments without a document', async () => {
    const r = await rewriteLinks('<p>Hi <a href="https://x.example.com/">x</a></p>', async () => 'https://go.example.com/a"b&c', { shortDomains: [] });
    expect(r.html).toBe('<p>Hi <a href="https://go.example.com/a&quot;b&amp;c">x</a></p>');
  });
});
