/**
 *   LINKPLANE_API_URL=http://127.0.0.1:8080 LINKPLANE_API_KEY=lp_… SHORT_DOMAIN=go.yoursite.com \
 *   SITE_URL=https://www.yoursite.com CMS_HOOK_TOKEN=… PORT=3000 npx tsx examples/cms-publish-hook/main.ts
 */
import { createServer } from 'node:http';
import { Linkplane } from '@linkplane/sdk';
import { setting } from '../lib/env.js';
import { publishHookHandler } from './server.js';

const env = process.env;
const lp = new Linkplane({ apiUrl: setting(env, 'LINKPLANE_API_URL'), apiKey: setting(env, 'LINKPLANE_API_KEY') });
const site = { domain: setting(env, 'SHORT_DOMAIN'), siteUrl: setting(env, 'SITE_URL') };
const port = Number(setting(env, 'PORT', '3000'));
createServer(publishHookHandler({ lp, site, hookToken: setting(env, 'CMS_HOOK_TOKEN') })).listen(port, () => {
  console.log(`CMS publish hook: POST http://127.0.0.1:${port}/cms/published`);
});
