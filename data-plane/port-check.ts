/**
 * uWebSockets.js listens with SO_REUSEPORT (the serving threads share the port that way), so a
 * second node started on a port another node already uses would silently share it: the kernel
 * would spread connections across both. Before the serving threads start, the supervisor binds the
 * port once without SO_REUSEPORT: that fails with EADDRINUSE exactly when anything listens there.
 * REUSE_PORT=true skips the check, for a deliberate handover on one host.
 */
import { createServer } from 'node:net';

export class PortInUseError extends Error {}

/** Resolves when `host:port` is free to listen on; rejects with the reason otherwise. */
export function checkPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(new PortInUseError(
          `PORT=${port} on ${host} is already in use (another node or program listens there); set REUSE_PORT=true only to share it on purpose`,
          { cause: err },
        ));
      } else {
        reject(new Error(`cannot listen on ${host}:${port}`, { cause: err }));
      }
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
