/**
 * The /shorten handler as Slack calls it: real HTTP with Slack-signed form bodies, against a live
 * stack. Only Slack's requests (valid signature, inside the replay window) create links.
 */
import { Linkplane } from '@linkplane/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, startLiveStack, type LiveStack } from '../testing/live-stack.js';
import { slashCommandHandler } from './slash-command.js';
import { slackSignature } from './slack-signature.js';

const DOMAIN = 'go.slack.example.com';
const SECRET = 'slack-signing-secret-for-tests';
const NOW = 1_796_292_000;

let stack: LiveStack;
let lp: Linkplane;
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  stack = await startLiveStack('slack');
  await stack.domain(DOMAIN);
  lp = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher', [DOMAIN]) });
  server = await listen(slashCommandHandler({ lp, signingSecret: SECRET, domain: DOMAIN, now: () => NOW }));
});
afterAll(async () => {
  await server?.close();
  await stack?.close();
});

function form(text: string, user = 'U2CERLKJA'): string {
  return new URLSearchParams({
    token: 'deprecated', team_id: 'T1DC2JH3J', team_domain: 'acme', channel_id: 'C0123', channel_name: 'marketing',
    user_id: user, user_name: 'roadrunner', command: '/shorten', text, response_url: 'https://hooks.slack.com/commands/x', trigger_id: '398738663015.47445629121.803a',
  }).toString();
}

async function command(body: string, opts: { ts?: number; sig?: string } = {}): Promise<{ status: number; body: string }> {
  const ts = String(opts.ts ?? NOW);
  const res = await fetch(`${server.url}/slack/shorten`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': opts.sig ?? slackSignature(SECRET, ts, body),
    },
    body,
  });
  return { status: res.status, body: await res.text() };
}

const reply = (text: string) => ({ status: 200, body: JSON.stringify({ response_type: 'ephemeral', text }) });

describe('Slack /shorten', () => {
  it('creates the link and answers with it; the same command again gives the same link', async () => {
    const r = await command(form('https://www.example.com/launch?ref=slack'));
    const [link] = await lp.links.list({ domain: DOMAIN, tag: 'slack' }).toArray();
    expect(link).toMatchObject({
      destination_url: 'https://www.example.com/launch?ref=slack',
      tags: ['slack'],
      metadata: { slack: { team_id: 'T1DC2JH3J', user_id: 'U2CERLKJA', channel_id: 'C0123' } },
    });
    expect(r).toEqual(reply(`Here you go: ${link!.short_url} → https://www.example.com/launch?ref=slack`));
    expect(await command(form('  https://www.example.com/launch?ref=slack '))).toEqual(r);
    // another user shortening the same URL gets a link of their own
    const other = await command(form('https://www.example.com/launch?ref=slack', 'U999'));
    expect(other.body).not.toBe(r.body);
    expect((await lp.links.list({ domain: DOMAIN }).toArray()).length).toBe(2);
  });

  it('takes a vanity path, and says so when it is taken', async () => {
    expect(await command(form('https://www.example.com/spring spring'))).toEqual(reply(`Here you go: https://${DOMAIN}/spring → https://www.example.com/spring`));
    expect(await command(form('https://www.example.com/other spring'))).toEqual(
      reply(`\`spring\` is taken on ${DOMAIN}. Try another path, or leave it out for a generated one.`),
    );
  });

  it("answers the user's mistakes in Slack (200, ephemeral) without creating anything", async () => {
    const before = (await lp.links.list({ domain: DOMAIN }).toArray()).length;
    const usage = 'Usage: `/shorten https://example.com/page [vanity-path]`';
    expect(await command(form(''))).toEqual(reply(`Please pass one http(s) URL. ${usage}`));
    expect(await command(form('javascript:alert(1)'))).toEqual(reply(`Please pass one http(s) URL. ${usage}`));
    expect(await command(form('https://a.example.com x y'))).toEqual(reply(`Please pass one http(s) URL. ${usage}`));
    // the API's own URL rules: a private address is refused (422 invalid_url), in the user's words
    const r = await command(form('http://10.0.0.1/admin'));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).text).toMatch(/^That link was refused: .+\. Usage: /);
    expect((await lp.links.list({ domain: DOMAIN }).toArray()).length).toBe(before);
  });

  it("a key the API refuses is said in Slack, as the app's problem", async () => {
    await stack.domain('go.elsewhere.example.com');
    const wrong = new Linkplane({ apiUrl: stack.apiUrl, apiKey: await stack.key('publisher', ['go.elsewhere.example.com']) });
    const other = await listen(slashCommandHandler({ lp: wrong, signingSecret: SECRET, domain: DOMAIN, now: () => NOW }));
    try {
      const body = form('https://www.example.com/x');
      const res = await fetch(`${other.url}/slack/shorten`, {
        method: 'POST',
        headers: { 'x-slack-request-timestamp': String(NOW), 'x-slack-signature': slackSignature(SECRET, String(NOW), body) },
        body,
      });
      expect([res.status, await res.json()]).toEqual([200, {
        response_type: 'ephemeral', text: "This app's linkplane key was refused (domain_not_allowed). Please tell whoever runs the /shorten app.",
      }]);
    } finally {
      await other.close();
    }
  });

  it("refuses what is not Slack's: bad signature, a replay outside the window, missing headers", async () => {
    const body = form('https://www.example.com/forged');
    expect(await command(body, { sig: slackSignature('another-secret', String(NOW), body) })).toEqual({ status: 401, body: 'bad_signature' });
    // a request captured and sent again six minutes later, signature and all
    const old = NOW - 360;
    expect(await command(body, { ts: old, sig: slackSignature(SECRET, String(old), body) })).toEqual({ status: 401, body: 'stale_timestamp' });
    const res = await fetch(`${server.url}/slack/shorten`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect([res.status, await res.text()]).toEqual([401, 'missing_headers']);
    expect(await lp.links.list({ domain: DOMAIN, q: 'forged' }).toArray()).toEqual([]);
  });
});
