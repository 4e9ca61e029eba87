/**
 * Two commands, usually on two machines:
 *
 *   npx tsx examples/catalog-upsert/main.ts import export.csv [--night 2026-12-03]   # the nightly cron job
 *   npx tsx examples/catalog-upsert/main.ts receive                                   # the job webhook receiver
 *
 * Both read LINKPLANE_API_URL and LINKPLANE_API_KEY; `import` also SHORT_DOMAIN, PRODUCT_URL (with `{sku}`)
 * and CAMPAIGN; `receive` also LINKPLANE_WEBHOOK_SECRETS (comma-separated) and PORT.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Linkplane } from '@linkplane/sdk';
import { setting } from '../lib/env.js';
import { jobEventsHandler, jobReport } from './job-events.js';
import { nightlyImport } from './nightly-import.js';

const env = process.env;
const lp = new Linkplane({ apiUrl: setting(env, 'LINKPLANE_API_URL'), apiKey: setting(env, 'LINKPLANE_API_KEY') });
const { positionals, values } = parseArgs({ allowPositionals: true, options: { night: { type: 'string' } } });
const [command, file] = positionals;

if (command === 'import' && file) {
  const productUrl = setting(env, 'PRODUCT_URL');
  const job = await nightlyImport(lp, file, {
    domain: setting(env, 'SHORT_DOMAIN'),
    productUrl: (sku) => productUrl.replace('{sku}', encodeURIComponent(sku)),
    campaign: setting(env, 'CAMPAIGN'),
    night: values.night ?? new Date().toISOString().slice(0, 10),
    onProgress: (j) => console.error(`${j.status}: ${j.counts.succeeded + j.counts.failed}/${j.counts.total}`),
  });
  console.log(JSON.stringify(await jobReport(lp, job)));
  process.exit(job.status === 'failed' || job.status === 'cancelled' ? 1 : 0);
} else if (command === 'receive') {
  const port = Number(setting(env, 'PORT', '3000'));
  const handler = jobEventsHandler({
    secrets: setting(env, 'LINKPLANE_WEBHOOK_SECRETS').split(','),
    // your data-warehouse sync goes here; this one prints what the job did
    onJob: async ({ type, job }) => console.log(type, JSON.stringify(await jobReport(lp, job, 20))),
  });
  createServer((req, res) => void handler(req, res)).listen(port, () => console.log(`job webhooks: http://127.0.0.1:${port}/`));
} else {
  console.error('usage: main.ts import <file.csv> [--night YYYY-MM-DD] | main.ts receive');
  process.exit(2);
}
