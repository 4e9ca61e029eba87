/**
 * Rewrites an HTML email's links before it is sent:
 *
 *   LINKPLANE_API_URL=… LINKPLANE_API_KEY=… npx tsx examples/email-rewriter/main.ts \
 *     --domain go.example.com --campaign-id 2026-spring --utm-campaign spring_sale < email.html > out.html
 *
 * A report of every link (rewritten or why not) goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Linkplane } from '@linkplane/sdk';
import { campaignShortener } from './campaign-links.js';
import { rewriteLinks } from './rewrite-links.js';

const { values } = parseArgs({
  options: {
    domain: { type: 'string' },
    'campaign-id': { type: 'string' },
    'utm-source': { type: 'string', default: 'newsletter' },
    'utm-medium': { type: 'string', default: 'email' },
    'utm-campaign': { type: 'string' },
  },
});
if (!values.domain || !values['campaign-id'] || !values['utm-campaign']) {
  console.error('usage: main.ts --domain <short domain> --campaign-id <id> --utm-campaign <name> [--utm-source newsletter] [--utm-medium email] < in.html > out.html');
  process.exit(2);
}
const lp = new Linkplane({ apiUrl: process.env.LINKPLANE_API_URL ?? 'http://127.0.0.1:8080', apiKey: process.env.LINKPLANE_API_KEY ?? '' });
const shorten = campaignShortener(lp, {
  id: values['campaign-id'],
  domain: values.domain,
  utm: { source: values['utm-source']!, medium: values['utm-medium']!, campaign: values['utm-campaign'] },
});
const result = await rewriteLinks(readFileSync(0, 'utf8'), shorten, { shortDomains: [values.domain] });
process.stdout.write(result.html);
for (const l of result.links) console.error(`${l.decision.padEnd(13)} ${l.href.trim()}${l.shortUrl ? ` → ${l.shortUrl}` : ''}`);
