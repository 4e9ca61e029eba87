/**
 * `/shorten <url> [path]` for Slack: checks Slack's request signature on the raw body, creates the
 * link and answers the command with the short URL (an ephemeral message only the caller sees).
 *
 * Slack wants an answer within 3 s, always as HTTP 200 for anything the user typed wrong; only a
 * request that is not Slack's gets a 401. The Idempotency-Key is the workspace, user and command
 * text, so the same user shortening the same URL again within a day gets the same link.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LinkplaneError, type Linkplane } from '@linkplane/sdk';
import { asyncListener, BodyTooLarge, readBody, sendJson, sendText } from '../lib/http.js';
import { checkSlackSignature } from './slack-signature.js';

export interface SlashCommandOptions {
  lp: Linkplane;
  /** The Slack app's signing secret (Basic Information → App Credentials). */
  signingSecret: string;
  /** The branded domain links are created on. */
  domain: string;
  /** Seconds since the epoch (tests pass a fixed clock). */
  now?: () => number;
}

export interface SlackReply {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
}

const USAGE = 'Usage: `/shorten https://example.com/page [vanity-path]`';

export function slashCommandHandler(opts: SlashCommandOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return asyncListener(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/slack/shorten') return sendText(res, 404, 'not found');
    let raw: Buffer;
    try {
      raw = await readBody(req, 64 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendText(res, 413, 'too large');
      throw err;
    }
    const failure = checkSlackSignature(
      opts.signingSecret,
      { signature: header(req, 'x-slack-signature'), timestamp: header(req, 'x-slack-request-timestamp') },
      raw,
      opts.now?.(),
    );
    if (failure) return sendText(res, 401, failure);
    sendJson(res, 200, await shorten(new URLSearchParams(raw.toString('utf8')), opts));
  });
}

/** The command itself, once the request is known to be Slack's. */
export async function shorten(form: URLSearchParams, opts: SlashCommandOptions): Promise<SlackReply> {
  const [url, path, ...rest] = (form.get('text') ?? '').trim().split(/\s+/).filter(Boolean);
  if (!url || rest.length > 0 || !/^https?:\/\//i.test(url)) return ephemeral(`Please pass one http(s) URL. ${USAGE}`);
  const team = form.get('team_id') ?? '';
  const user = form.get('user_id') ?? '';
  const key = `slack:${team}:${user}:${createHash('sha256').update(`${url} ${path ?? ''}`).digest('base64url')}`;
  try {
    const link = await opts.lp.links.create(
      {
        domain: opts.domain,
        destination_url: url,
        ...(path ? { path } : {}),
        tags: ['slack'],
        metadata: { slack: { team_id: team, user_id: user, channel_id: form.get('channel_id') ?? '' } },
      },
      { idempotencyKey: key },
    );
    return ephemeral(`Here you go: ${link.short_url} → ${link.destination_url}`);
  } catch (err) {
    if (!(err instanceof LinkplaneError)) throw err;
    if (err.code === 'path_conflict') return ephemeral(`\`${path}\` is taken on ${opts.domain}. Try another path, or leave it out for a generated one.`);
    if (err.status === 400 || err.status === 422) return ephemeral(`That link was refused: ${err.message}. ${USAGE}`);
    if (err.status === 401 || err.status === 403) {
      return ephemeral(`This app's linkplane key was refused (${err.code}). Please tell whoever runs the /shorten app.`);
    }
    return ephemeral(`Sorry, the link service did not answer (${err.code}${err.requestId ? `, request ${err.requestId}` : ''}). Please try again.`);
  }
}

function ephemeral(text: string): SlackReply {
  return { response_type: 'ephemeral', text };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
