/**
 *   LINKPLANE_API_URL=… LINKPLANE_API_KEY=lp_… SHORT_DOMAIN=go.example.com SLACK_SIGNING_SECRET=… \
 *   PORT=3000 npx tsx examples/slack-shorten/main.ts
 */
import { createServer } from 'node:http';
import { Linkplane } from '@linkplane/sdk';
import { setting } from '../lib/env.js';
import { slashCommandHandler } from './slash-command.js';

const env = process.env;
const lp = new Linkplane({ apiUrl: setting(env, 'LINKPLANE_API_URL'), apiKey: setting(env, 'LINKPLANE_API_KEY'), retry: { retries: 1 }, timeoutMs: 2000 });
const port = Number(setting(env, 'PORT', '3000'));
createServer(slashCommandHandler({ lp, signingSecret: setting(env, 'SLACK_SIGNING_SECRET'), domain: setting(env, 'SHORT_DOMAIN') })).listen(port, () => {
  console.log(`Slack /shorten: Request URL http://127.0.0.1:${port}/slack/shorten`);
});
