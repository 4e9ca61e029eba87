/** NATS for the all-in-one: the one at NATS_URL if it answers, else `nats-server -js` from PATH. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

export const NATS_INSTALL_HELP = `nats-server was not found on PATH and no NATS server answers at the configured NATS_URL.
Install NATS Server 2.9 or newer (JetStream is built in), then run npm start again:
  - Debian/Ubuntu:    apt-get install nats-server
  - macOS:            brew install nats-server
  - Linux/Windows:    download a release from https://github.com/nats-io/nats-server/releases and put nats-server on PATH
  - with Go:          go install github.com/nats-io/nats-server/v2@latest
  - with Docker:      docker run -p 4222:4222 nats:2.10 -js
Or point NATS_URL at a running NATS server started with JetStream (nats-server -js).`;

export type NatsProbe = 'jetstream' | 'no_jetstream' | 'unreachable';

export async function probeNats(url: string): Promise<NatsProbe> {
  let nc;
  try {
    nc = await connect({ servers: url, timeout: 1500, reconnect: false });
  } catch {
    return 'unreachable';
  }
  try {
    await (await jetstreamManager(nc, { timeout: 1500 })).getAccountInfo();
    return 'jetstream';
  } catch {
    return 'no_jetstream';
  } finally {
    await nc.close();
  }
}

export interface LocalNats {
  url: string;
  stop(): Promise<void>;
}

/** Starts `nats-server -js` on the host/port of `url`, storing under `storeDir`. */
export async function startLocalNats(url: string, storeDir: string): Promise<LocalNats> {
  const u = new URL(url.replace(/^nats:/, 'http:'));
  const port = u.port || '4222';
  const host = u.hostname || '127.0.0.1';
  mkdirSync(storeDir, { recursive: true });
  const proc: ChildProcess = spawn('nats-server', ['-js', '-a', host, '-p', port, '-sd', storeDir], { stdio: 'ignore', detached: true });
  const failed = new Promise<never>((_, reject) => {
    proc.once('error', (err) => reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(NATS_INSTALL_HELP) : err));
    proc.once('exit', (code) => reject(new Error(`nats-server exited with code ${code} (is port ${port} taken?)`)));
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const probe = await Promise.race([probeNats(url), failed]);
    if (probe === 'jetstream') break;
    if (Date.now() > deadline) throw new Error(`nats-server did not come up on ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  failed.catch(() => undefined);
  return {
    url,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
