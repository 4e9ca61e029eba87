/**
 * Checks LMDB_PATH before anything is mapped. lmdb-js maps the store file: on a volume with no
 * room left the first page fault kills the process with SIGBUS (no log line, a 0-byte store file
 * left behind), and an unwritable directory only surfaces as "cannot be opened". So the node
 * creates the directory, proves it can write there and checks the free space first, and says
 * which of these failed and why.
 */
import { mkdirSync, rmSync, statSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../../shared/index.js';

const PROBE = '.write-probe';

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function uid(): string {
  return typeof process.getuid === 'function' ? String(process.getuid()) : 'this user';
}

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Creates `dir` if needed; throws a StoreError naming the problem unless it is writable with `minFreeBytes` free. */
export function prepareStoreDir(dir: string, minFreeBytes: number): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new StoreError('the directory cannot be created', { cause });
  }
  const probe = join(dir, PROBE);
  try {
    writeFileSync(probe, 'linkplane\n');
    unlinkSync(probe);
  } catch (cause) {
    try {
      rmSync(probe, { force: true }); // created but not written (ENOSPC): leave nothing behind
    } catch {
      // not there or not removable: the error below says why
    }
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EROFS') throw new StoreError('the directory is on a read-only file system', { cause });
    if (code === 'EACCES' || code === 'EPERM') {
      const st = statSync(dir);
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      throw new StoreError(`the directory is not writable by uid ${uid()} (it belongs to uid ${st.uid}, gid ${st.gid}, mode ${mode})`, { cause });
    }
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new StoreError('its file system is full', { cause });
    throw new StoreError('the directory is not writable', { cause });
  }
  const free = freeBytes(dir);
  if (free < minFreeBytes) {
    throw new StoreError(`only ${mib(free)} free on its file system; the node needs at least ${mib(minFreeBytes)} to map its store (STORE_MIN_FREE_MB)`);
  }
}
