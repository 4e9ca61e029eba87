/** A three-server NATS cluster with JetStream on loopback (the production topology, in miniature). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, waitFor } from './ports.js';

export interface ClusterMember {
  name: string;
  clientPort: number;
  url: string;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface NatsCluster {
  members: ClusterMember[];
  /** All client URLs, comma-separated (what NATS_URL takes). */
  urls: string;
  destroy(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'lp-natsc-'));
  const ports = await Promise.all(Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort() })));
  const members: ClusterMember[] = ports.map((p, i) => {
    const name = `n${i + 1}`;
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `jetstream { store_dir: "${join(dir, name)}" }`,
        'cluster {',
        '  name: linkplane',
        `  listen: 127.0.0.1:${p.cluster}`,
        `  routes: [${ports.filter((_, j) => j !== i).map((o) => `nats-route://127.0.0.1:${o.cluster}`).join(', ')}]`,
        '}',
      ].join('\n'),
    );
    let proc: ChildProcess | null = null;
    const url = `nats://127.0.0.1:${p.client}`;
    return {
      name,
      clientPort: p.client,
      url,
      async start() {
        proc = spawn('nats-server', ['-c', conf], { stdio: 'ignore' });
      },
      async stop(signal = 'SIGTERM') {
        const c = proc;
        if (!c || c.exitCode !== null) return;
        await new Promise<void>((resolve) => {
          c.once('exit', () => resolve());
          c.kill(signal);
        });
        proc = null;
      },
    };
  });
  for (const m of members) await m.start();
  const urls = members.map((m) => m.url).join(',');
  // ready when JetStream has a meta leader and answers account info through any member
  await waitFor('nats cluster with JetStream', async () => {
    try {
      const nc = await connect({ servers: members[0]!.url, timeout: 1000, reconnect: false });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.getAccountInfo();
        return true;
      } finally {
        await nc.close();
      }
    } catch {
      return false;
    }
  }, 30_000, 250);
  return {
    members,
    urls,
    async destroy() {
      for (const m of members) await m.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
