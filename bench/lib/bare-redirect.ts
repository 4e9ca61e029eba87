/** Builds the bare server's LMDB (one write transaction) and starts it pinned like the node. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { freePort } from '../../shared/testing/index.js';
import { waitForAnswer } from './http-probe.js';
import { startProc, type Proc } from './processes.js';

export interface BareServer {
  port: number;
  proc: Proc;
  /** Seconds to write every entry in one LMDB transaction. */
  writeSeconds: number;
  stop(): Promise<void>;
}

export async function startBareRedirect(opts: {
  dir: string;
  host: string;
  entries: Iterable<[string, string]>;
  probePath: string;
  cpus: string | null;
}): Promise<BareServer> {
  const path = join(opts.dir, 'bare.mdb');
  const db = open<string, string>({ path, encoding: 'string', cache: false, noSync: true, mapSize: 8 * 1024 ** 3 } as Parameters<typeof open>[0]);
  const t0 = performance.now();
  await db.transaction(() => {
    for (const [p, dest] of opts.entries) void db.put(`${opts.host}/${p}`, dest);
  });
  const writeSeconds = (performance.now() - t0) / 1000;
  await db.close();
  const port = await freePort();
  const script = fileURLToPath(new URL('./bare-redirect-server.js', import.meta.url));
  const proc = startProc('bare-uws', process.execPath, [script, String(port), path], { cpus: opts.cpus });
  try {
    await waitForAnswer({ port, host: opts.host, path: `/${opts.probePath}`, status: 302, timeoutMs: 60_000, alive: proc.alive });
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
  return { port, proc, writeSeconds, stop: () => proc.stop() };
}
