/**
 * The store directory (LMDB_PATH) holds generations of the replica: `gen-<n>.mdb` files and a
 * `CURRENT` file naming the one to serve. A rebuild writes a fresh generation while the current
 * one keeps serving, then CURRENT is replaced atomically (write + rename) and the old file deleted.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CURRENT = 'CURRENT';
const GEN = /^gen-(\d+)\.mdb$/;

export function ensureStoreDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

/** The generation file CURRENT names, if it exists. */
export function currentGeneration(dir: string): string | null {
  const p = join(dir, CURRENT);
  if (!existsSync(p)) return null;
  const name = readFileSync(p, 'utf8').trim();
  return GEN.test(name) && existsSync(join(dir, name)) ? name : null;
}

export function nextGeneration(dir: string): string {
  let max = 0;
  for (const f of readdirSync(dir)) {
    const m = GEN.exec(f);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return `gen-${max + 1}.mdb`;
}

export function setCurrentGeneration(dir: string, name: string): void {
  const tmp = join(dir, `${CURRENT}.tmp`);
  writeFileSync(tmp, `${name}\n`);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, join(dir, CURRENT));
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Deletes generation files (and their lock files) other than `keep`. */
export function removeGenerations(dir: string, keep: readonly string[]): void {
  for (const f of readdirSync(dir)) {
    const base = f.endsWith('-lock') ? f.slice(0, -5) : f;
    if (GEN.test(base) && !keep.includes(base)) rmSync(join(dir, f), { force: true });
  }
}
