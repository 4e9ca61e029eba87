/**
 * NATS for tests: a unique NATS_PREFIX per test file on the machine's server (and cleanup of
 * everything under it), or a private nats-server on a free port for tests that stop NATS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, waitFor } from './ports.js';

export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export function testPrefix(label = 't'): string {
  return `lpt${label.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}${Math.random().toString(36).slice(2, 9)}`;
}

/** Deletes every stream (and so every KV bucket) whose name contains `prefix`. */
export async function cleanupNatsPrefix(prefix: string, url = TEST_NATS_URL): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3000 });
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(prefix) || name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

export interface NatsServer {
  port: number;
  url: string;
  /** Storage dir; kept across stop/start so JetStream state survives a restart. */
  storeDir: string;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  destroy(): Promise<void>;
}

/** A private `nats-server -js` on a free loopback port. */
export async function startNatsServer(opts: { port?: number } = {}): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), 'lp-nats-'));
  let proc: ChildProcess | null = null;
  const server: NatsServer = {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    async start() {
      proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
      await waitFor(`nats-server on ${port}`, async () => {
        try {
          const nc = await connect({ servers: server.url, timeout: 500, reconnect: false });
          await nc.close();
          return true;
        } catch {
          return false;
        }
      });
    },
    async stop(signal = 'SIGTERM') {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill(signal);
      });
      proc = null;
    },
    async destroy() {
      await server.stop('SIGKILL');
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
