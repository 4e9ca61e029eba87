/**
 * `node check-store.js <path>`: opens a store generation read-only and walks every key, in its own
 * process. lmdb-js crashes the whole process (SIGSEGV) on some damaged files instead of throwing,
 * so a node checks its store this way before trusting it in-process. Exit 0 and one JSON line on
 * success; anything else means the file is not usable.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lmdbMapSize, openStoreDbs, setLmdbMapSize } from './lmdb-env.js';

export interface StoreCheck {
  ok: boolean;
  detail: string;
}

export const CHECK_SCRIPT = fileURLToPath(new URL('./check-store.js', import.meta.url));

/** Runs the check in a child process; `script` is this file compiled (dist/). */
export function checkStoreFile(path: string, script = CHECK_SCRIPT): StoreCheck {
  if (!existsSync(script)) return { ok: true, detail: `check skipped: ${script} not built` };
  const r = spawnSync(process.execPath, [script, path, String(lmdbMapSize())], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return { ok: true, detail: r.stdout.trim() };
  return { ok: false, detail: r.signal ? `check crashed with ${r.signal}` : (r.stderr || r.stdout).trim().slice(0, 500) };
}

async function main(path: string): Promise<void> {
  const dbs = openStoreDbs(path, true);
  const meta = dbs.meta.get('sync');
  let keys = 0;
  for (const db of [dbs.links, dbs.domains]) {
    for (const _ of db.getKeys()) keys++;
  }
  await dbs.env.close();
  process.stdout.write(`${JSON.stringify({ meta, keys })}\n`);
}

if (process.argv[1] === CHECK_SCRIPT) {
  const path = process.argv[2];
  if (!path) {
    process.stderr.write('usage: check-store.js <store file>\n');
    process.exit(2);
  }
  if (Number(process.argv[3]) > 0) setLmdbMapSize(Number(process.argv[3]));
  main(path).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
