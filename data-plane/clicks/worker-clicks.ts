/**
 * Click capture in a worker thread: the ClickBuffer the server hands clicks to, with the salts
 * the main thread sends, posting each encoded batch to the main thread (its bytes transferred,
 * not copied).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '../../shared/index.js';
import type { DeviceDetector } from '../device.js';
import type { Geo } from '../geo.js';
import type { Cidr } from '../ip.js';
import type { ClickBacklog } from './click-backlog.js';
import { ClickBuffer } from './click-buffer.js';

/** Main → worker: the current salts (UTC day → 32 bytes). */
export interface SaltsMessage {
  type: 'salts';
  salts: [number, Uint8Array][];
}

/** Worker → main: one encoded batch. */
export interface ClicksMessage {
  type: 'clicks';
  batchId: string;
  events: number;
  data: Uint8Array;
}

export function saltsMessage(salts: ReadonlyMap<number, Uint8Array>): SaltsMessage {
  return { type: 'salts', salts: [...salts].map(([d, s]) => [d, Uint8Array.from(s)]) };
}

export function createWorkerClicks(opts: {
  port: MessagePort;
  nodeId: string;
  geo: Geo;
  device: DeviceDetector;
  trustedProxies: readonly Cidr[];
  initialSalts: [number, Uint8Array][];
  maxEvents: number;
  flushMs: number;
  /** Shared with the main thread: bytes posted and not yet spooled (see click-backlog.ts). */
  backlog: ClickBacklog;
  log: Logger;
}): { buffer: ClickBuffer; setSalts(m: SaltsMessage): void } {
  let droppedLogged = 0;
  let salts = new Map(opts.initialSalts);
  const buffer = new ClickBuffer({
    nodeId: opts.nodeId,
    geo: opts.geo,
    device: opts.device,
    trustedProxies: opts.trustedProxies,
    salts: (day) => salts.get(day),
    maxEvents: opts.maxEvents,
    flushMs: opts.flushMs,
    emit(data, events, batchId) {
      // a copy of its own: the encoder's output is a view of msgpackr's reused buffer, and a Node
      // Buffer's slice() is a view too — transferring that detached msgpackr's buffer, which then
      // reallocated and regrew on every batch (measured: ~1 µs per click)
      if (!opts.backlog.tryAdd(data.byteLength, events)) {
        const now = Date.now();
        if (now - droppedLogged > 10_000) {
          droppedLogged = now;
          opts.log.warn(
            { events, backlogBytes: opts.backlog.bytes, droppedEvents: opts.backlog.droppedEvents },
            'click backlog full: clicks dropped (the node is saturated and cannot spool them as fast as it serves)',
          );
        }
        return;
      }
      const copy = Uint8Array.prototype.slice.call(data);
      opts.port.postMessage({ type: 'clicks', batchId, events, data: copy } satisfies ClicksMessage, [copy.buffer as ArrayBuffer]);
    },
    onMissingSalt: (day) => opts.log.warn({ day: new Date(day * 86_400_000).toISOString().slice(0, 10) }, 'no shared visitor salt for this day yet: hashing with a worker-local one'),
  });
  return {
    buffer,
    setSalts(m) {
      salts = new Map(m.salts);
    },
  };
}
