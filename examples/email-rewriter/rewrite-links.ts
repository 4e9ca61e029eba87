/**
 * Rewrites the `<a href>` links of an HTML email with a real HTML parser (parse5, the WHATWG
 * algorithm browsers use), changing only the bytes of each rewritten `href` attribute: the rest of
 * the email — Outlook conditional comments, odd whitespace, entities — is left exactly as it was.
 */
import { parse, type DefaultTreeAdapterMap } from 'parse5';

type Node = DefaultTreeAdapterMap['node'];
type Element = DefaultTreeAdapterMap['element'];

/** Why a link was left alone (or `rewritten`). */
export type LinkDecision = 'rewritten' | 'not_http' | 'unsubscribe' | 'opted_out' | 'already_short' | 'merge_tag';

export interface RewriteOptions {
  /** Hostnames whose links are short links already (rewriting its own output changes nothing). */
  shortDomains: string[];
}

export interface RewriteResult {
  html: string;
  /** Every `<a href>` in document order, with what was decided for it. */
  links: { href: string; decision: LinkDecision; shortUrl?: string }[];
}

/** `shorten` is called once per distinct URL, in document order of first appearance. */
export async function rewriteLinks(html: string, shorten: (url: string) => Promise<string>, opts: RewriteOptions): Promise<RewriteResult> {
  const doc = parse(html, { sourceCodeLocationInfo: true });
  const anchors: { el: Element; href: string; decision: LinkDecision }[] = [];
  walk(doc, (el) => {
    if (el.tagName !== 'a') return;
    const href = attr(el, 'href');
    if (href === undefined) return;
    anchors.push({ el, href, decision: decide(el, href, opts) });
  });
  const short = new Map<string, string>();
  for (const a of anchors) {
    const url = a.href.trim();
    if (a.decision === 'rewritten' && !short.has(url)) short.set(url, await shorten(url));
  }
  // splice from the end so earlier offsets stay valid
  let out = html;
  const edits: { start: number; end: number; url: string }[] = [];
  for (const a of anchors) {
    const loc = a.el.sourceCodeLocation?.attrs?.href;
    if (a.decision === 'rewritten' && loc) edits.push({ start: loc.startOffset, end: loc.endOffset, url: short.get(a.href.trim())! });
  }
  edits.sort((x, y) => y.start - x.start);
  for (const e of edits) out = out.slice(0, e.start) + `href="${escapeAttr(e.url)}"` + out.slice(e.end);
  return {
    html: out,
    links: anchors.map((a) => (a.decision === 'rewritten' ? { href: a.href, decision: a.decision, shortUrl: short.get(a.href.trim())! } : { href: a.href, decision: a.decision })),
  };
}

function decide(el: Element, rawHref: string, opts: RewriteOptions): LinkDecision {
  const href = rawHref.trim();
  // ESP placeholders ({{unsubscribe_url}}, *|UNSUB|*, %%view_online%%) are filled in after us
  if (/\{\{|\}\}|\*\||\|\*|%%|\[\[|<%/.test(href)) return 'merge_tag';
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return 'not_http'; // relative links and #anchors
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'not_http'; // mailto:, tel:, sms:, javascript:
  if (attr(el, 'data-linkplane') === 'skip' || attr(el, 'clicktracking')?.toLowerCase() === 'off') return 'opted_out';
  if (isUnsubscribe(el, url)) return 'unsubscribe';
  if (opts.shortDomains.includes(url.hostname)) return 'already_short';
  return 'rewritten';
}

/**
 * Unsubscribe links must reach the ESP untouched (one-click unsubscribe, RFC 8058; a redirect in
 * front of them breaks some mail clients' checks and counts an unsubscribe as a click).
 */
function isUnsubscribe(el: Element, url: URL): boolean {
  const words = /unsubscribe|opt-?out|manage[-_ ]?preferences/i;
  return words.test(url.pathname) || words.test(url.search) || words.test(textOf(el)) || words.test(attr(el, 'rel') ?? '');
}

function walk(node: Node, visit: (el: Element) => void): void {
  if ('tagName' in node) visit(node);
  if ('childNodes' in node) for (const child of node.childNodes) walk(child, visit);
}

function attr(el: Element, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

function textOf(node: Node): string {
  if (node.nodeName === '#text' && 'value' in node) return node.value;
  return 'childNodes' in node ? node.childNodes.map(textOf).join('') : '';
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}
