/**
 * `npm run docs:screenshots`: the README's console pictures (docs/img/console-links.png,
 * docs/img/console-analytics.png, see docs/console.md), taken from a real stack with demo data —
 * links made through the API, a week of clicks published on the clicks stream as nodes do and
 * ingested by the control plane. Needs the local Postgres and NATS, like the tests.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { makeClicks, publishClicks, type FixtureLink } from '../../control-plane/test/click-fixtures.js';
import { REPO_ROOT, TEST_NATS_URL, waitFor } from '../../shared/testing/index.js';
import { SHOTS, startConsoleStack } from './console-stack.js';

const DOMAIN = 'go.example.com';
const LINKS: { path: string; destination: string; tags: string[]; routing?: unknown }[] = [
  { path: 'spring-sale', destination: 'https://shop.example.com/spring', tags: ['email', 'spring2026'] },
  { path: 'app', destination: 'https://www.example.com/app', tags: ['mobile'], routing: { rules: [{ when: { os: ['iOS'] }, url: 'https://apps.apple.com/app/id1' }, { when: { os: ['Android'] }, url: 'https://play.google.com/store/apps/details?id=x' }] } },
  { path: 'ab-pricing', destination: 'https://www.example.com/pricing', tags: ['experiment'], routing: { ab: [{ id: 'a', url: 'https://www.example.com/pricing?v=a', weight: 50 }, { id: 'b', url: 'https://www.example.com/pricing?v=b', weight: 50 }] } },
  { path: 'sg', destination: 'https://www.example.com/intl', tags: ['geo'], routing: { geo: [{ country: 'SG', url: 'https://www.example.com/sg' }] } },
  { path: 'docs', destination: 'https://docs.example.com/', tags: ['web'] },
  { path: 'careers', destination: 'https://jobs.example.com/', tags: ['web', 'hr'] },
  { path: 'podcast-ep42', destination: 'https://podcast.example.com/42', tags: ['audio'] },
  { path: 'qr-poster', destination: 'https://www.example.com/event', tags: ['print', 'qr'] },
];

async function main(): Promise<void> {
  const s = await startConsoleStack('console_screens');
  try {
    if ((await s.cp.call('POST', '/v1/domains', { hostname: DOMAIN })).status !== 201) throw new Error('domain');
    const made: FixtureLink[] = [];
    for (const l of LINKS) {
      const r = await s.cp.call('POST', '/v1/links', { domain: DOMAIN, path: l.path, destination_url: l.destination, tags: l.tags, routing: l.routing });
      if (r.status !== 201) throw new Error(`link ${l.path}: ${JSON.stringify(r.json)}`);
      made.push({ id: String(r.json.id), workspaceId: '', domain: DOMAIN, path: l.path });
    }
    const db = new pg.Client({ connectionString: s.db.url });
    await db.connect();
    const ws = (await db.query<{ workspace_id: string }>('SELECT workspace_id FROM links LIMIT 1')).rows[0]!.workspace_id;
    for (const l of made) l.workspaceId = ws;
    const week = 7 * 24 * 3_600_000;
    const n = 2400;
    const clicks = makeClicks(n, made, { start: Date.now() - week + 60_000, spacingMs: Math.floor((week - 120_000) / n), visitors: 700, seed: 19 });
    const nc = await connect({ servers: TEST_NATS_URL });
    await publishClicks(nc, s.prefix, clicks, { perBatch: 200 });
    await nc.close();
    await waitFor('clicks ingested', async () => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM clicks')).rows[0]!.n) >= n, 60_000, 200);
    await db.end();

    const { page } = s;
    await page.setViewportSize({ width: 1280, height: 760 });
    await s.signIn(s.adminKey);
    await page.locator('table.links tbody tr').nth(LINKS.length - 1).waitFor();
    await s.shot('console-links');
    await page.getByRole('link', { name: 'Analytics', exact: true }).click();
    await page.getByTestId('total-clicks').waitFor();
    await page.locator('.chart canvas').waitFor();
    await s.shot('console-analytics');
    // phone-sized: the same two pages at 390 px
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('/ui/#/links');
    await page.locator('table.links tbody tr').first().waitFor();
    await s.shot('console-links-phone');
  } finally {
    await s.close();
  }
  const out = join(REPO_ROOT, 'docs', 'img');
  mkdirSync(out, { recursive: true });
  for (const name of ['console-links', 'console-analytics']) copyFileSync(join(SHOTS, `${name}.png`), join(out, `${name}.png`));
  process.stdout.write(`wrote docs/img/console-links.png and docs/img/console-analytics.png (phone-sized view: ${join(SHOTS, 'console-links-phone.png')})\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
