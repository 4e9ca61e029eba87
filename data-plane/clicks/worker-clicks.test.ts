import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLogger, decodeClickBatch } from '../../shared/index.js';
import { defaultGeoipDb } from '../config.js';
import { createDeviceDetector } from '../device.js';
import { loadGeoDatabase, openGeo } from '../geo.js';
import type { ClickFacts } from '../resolve.js';
import { createWorkerClicks, type ClicksMessage } from './worker-clicks.js';

const geo = openGeo(loadGeoDatabase(defaultGeoipDb()));

function click(i: number): ClickFacts {
  return {
    linkId: `ln_01JD00000000000000000000${String(i % 100).padStart(2, '0')}`, workspaceId: 'ws_01JD0000000000000000000001', domain: 'go.example.com',
    path: `p${i}`, destination: `https://example.org/p/${i}?utm_source=mail`, ruleId: null, variantId: null, country: null, os: null, device: null, qr: false, at: Date.now(),
  };
}

function received(port: MessagePort, n: number): Promise<ClicksMessage[]> {
  const out: ClicksMessage[] = [];
  return new Promise((resolve) => {
    port.on('message', (m: ClicksMessage) => {
      out.push(m);
      if (out.length === n) resolve(out);
    });
  });
}

describe('worker click capture → main thread', () => {
  it('posts each batch as a standalone buffer of its own (the encoder keeps its reused buffer), intact', async () => {
    const { port1, port2 } = new MessageChannel();
    const wc = createWorkerClicks({
      port: port1, nodeId: 'node-a', geo, device: createDeviceDetector(100), trustedProxies: [],
      initialSalts: [[Math.floor(Date.now() / 86_400_000), new Uint8Array(32).fill(7)]], maxEvents: 100, flushMs: 10_000,
      log: createLogger({ name: 'test', level: 'silent' }),
    });
    const got = received(port2, 3);
    const visit = { peer: '81.2.69.160', forwardedFor: '', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0', referer: '', acceptLanguage: 'en' };
    for (const batch of [0, 1, 2]) {
      for (let i = 0; i < 100; i++) wc.buffer.capture(click(batch * 100 + i), visit);
      wc.buffer.flush();
    }
    const msgs = await got;
    expect(msgs.map((m) => m.events)).toEqual([100, 100, 100]);
    for (const [b, m] of msgs.entries()) {
      expect(m.data.byteOffset).toBe(0);
      expect(m.data.buffer.byteLength).toBe(m.data.byteLength);
      const { batch } = decodeClickBatch(m.data);
      expect(batch.batchId).toBe(m.batchId);
      expect(batch.events.map((e) => e.path)).toEqual(Array.from({ length: 100 }, (_, i) => `p${b * 100 + i}`));
      expect(batch.events[0]).toMatchObject({ country: 'GB', utm: { source: 'mail' }, nodeId: 'node-a' });
    }
    port1.close();
    port2.close();
  });
});
