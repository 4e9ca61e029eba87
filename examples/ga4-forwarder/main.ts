/**
 *   LINKPLANE_WEBHOOK_SECRETS=whsec_…[,whsec_…] GA4_MEASUREMENT_ID=G-… GA4_API_SECRET=… \
 *   [GA4_ENDPOINT=https://www.google-analytics.com/debug/mp/collect] PORT=3000 npx tsx examples/ga4-forwarder/main.ts
 */
import { createServer } from 'node:http';
import { setting } from '../lib/env.js';
import { ga4Forwarder } from './forwarder.js';

const env = process.env;
const port = Number(setting(env, 'PORT', '3000'));
const handler = ga4Forwarder({
  secrets: setting(env, 'LINKPLANE_WEBHOOK_SECRETS').split(','),
  measurementId: setting(env, 'GA4_MEASUREMENT_ID'),
  apiSecret: setting(env, 'GA4_API_SECRET'),
  endpoint: env.GA4_ENDPOINT,
});
createServer((req, res) => void handler(req, res)).listen(port, () => {
  console.log(`GA4 forwarder: webhook URL http://127.0.0.1:${port}/ (subscribe it to click.created and qr.scan.created)`);
});
