/**
 * `npm run sdk:generate`: regenerates sdk/src/generated/openapi.ts from the control plane's
 * OpenAPI document — the app built in-process (no listen, no database connection), or the
 * document at `--from <url or file>` (e.g. http://127.0.0.1:8080/v1/openapi.json).
 * sdk/test/generated-drift.test.ts fails when the checked-in file differs from a live document.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiToTypeScript } from './openapi-to-ts.js';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'generated', 'openapi.ts');

async function inProcessDocument(): Promise<unknown> {
  const [{ buildApp }, { loadControlPlaneConfig }, { createPool }, { createLogger }] = await Promise.all([
    import('../../control-plane/app.js'),
    import('../../control-plane/config.js'),
    import('../../control-plane/db/pool.js'),
    import('../../shared/index.js'),
  ]);
  // the document depends on no setting that differs between deployments; nothing connects
  const config = loadControlPlaneConfig({ DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused', SECRETS_KEY: Buffer.alloc(32).toString('base64'), LOG_LEVEL: 'silent' });
  const pool = createPool(config.DATABASE_URL, { max: 1 });
  const app = await buildApp({ pool, config, log: createLogger({ name: 'sdk-generate', level: 'silent' }) });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  await pool.end();
  return doc;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--from');
  const from = i >= 0 ? process.argv[i + 1] : undefined;
  let doc: unknown;
  if (!from) doc = await inProcessDocument();
  else if (/^https?:/.test(from)) doc = await (await fetch(from)).json();
  else doc = JSON.parse(await readFile(from, 'utf8'));
  await writeFile(OUT, await openApiToTypeScript(doc));
  process.stdout.write(`wrote ${OUT}\n`);
}

await main();
