/**
 * One way to connect to NATS for every process: retry the first connect in the background,
 * reconnect forever with jittered backoff, log status changes, and expose `connected()`.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from './logger.js';

export interface NatsHandle {
  /** Resolves once the first connection succeeded (never rejects while retrying). */
  ready: Promise<NatsConnection>;
  connected(): boolean;
  close(): Promise<void>;
}

export function connectNats(opts: { servers: string; name: string; log: Logger }): NatsHandle {
  const servers = opts.servers.split(',').map((s) => s.trim()).filter(Boolean);
  let nc: NatsConnection | null = null;
  let up = false;
  let closed = false;
  const ready = new Promise<NatsConnection>((resolve) => {
    const attempt = async (delay: number): Promise<void> => {
      if (closed) return;
      try {
        const c = await connect({
          servers,
          name: opts.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          reconnectJitter: 250,
          pingInterval: 10_000,
          timeout: 3_000,
        });
        if (closed) {
          await c.close();
          return;
        }
        nc = c;
        up = true;
        opts.log.info({ server: c.getServer() }, 'nats connected');
        void (async () => {
          for await (const s of c.status()) {
            if (s.type === 'disconnect') {
              up = false;
              opts.log.warn({ server: s.server }, 'nats disconnected');
            } else if (s.type === 'reconnect') {
              up = true;
              opts.log.info({ server: s.server }, 'nats reconnected');
            } else if (s.type === 'error') {
              opts.log.warn({ err: s.error }, 'nats error');
            }
          }
        })();
        void c.closed().then(() => {
          up = false;
        });
        resolve(c);
      } catch (err) {
        opts.log.warn({ err: (err as Error).message, servers }, 'nats not reachable, retrying');
        setTimeout(() => void attempt(Math.min(delay * 2, 5_000)), delay).unref();
      }
    };
    void attempt(250);
  });
  return {
    ready,
    connected: () => up && nc !== null && !nc.isClosed(),
    async close() {
      closed = true;
      if (nc && !nc.isClosed()) await nc.drain().catch(() => nc?.close());
    },
  };
}
