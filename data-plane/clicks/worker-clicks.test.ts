import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createLogger, decodeClickBatch } from '../../shared/index.js';
import { defaultGeoipDb } from '../config.js';
import { parseIp } from '../ip.js';
import { createDeviceDetector } from '../device.js';
import { loadGeoDatabase, openGeo } from '../geo.js';
import type { ClickFacts } from '../resolve.js';
import { ClickBacklog } from './click-backlog.js';
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
      backlog: ClickBacklog.create(64 * 1024 * 1024), log: createLogger({ name: 'test', level: 'silent' }),
    });
    const got = received(port2, 3);
    const visit = { peer: parseIp('81.2.69.160'), forwardedFor: '', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0', referer: '', acceptLanguage: 'en' };
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

  it('a saturated node: past the backlog bound a batch is dropped and counted, never posted; room again once spooled', async () => {
    const { port1, port2 } = new MessageChannel();
    const main = ClickBacklog.create(100 * 1024); // 100 KB: room for a few batches of 100 clicks
    const wc = createWorkerClicks({
      port: port1, nodeId: 'node-a', geo, device: createDeviceDetector(100), trustedProxies: [],
      initialSalts: [], maxEvents: 100, flushMs: 10_000,
      backlog: new ClickBacklog(main.buffer), log: createLogger({ name: 'test', level: 'silent' }),
    });
    const posted: ClicksMessage[] = [];
    port2.on('message', (m: ClicksMessage) => posted.push(m));
    const visit = { peer: parseIp('81.2.69.160'), forwardedFor: '', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0', referer: '', acceptLanguage: 'en' };
    for (let batch = 0; batch < 40; batch++) {
      for (let i = 0; i < 100; i++) wc.buffer.capture(click(batch * 100 + i), visit);
      wc.buffer.flush();
    }
    await new Promise((r) => setTimeout(r, 50));
    const sent = posted.reduce((n, m) => n + m.events, 0);
    expect(posted.length).toBeGreaterThan(0);
    expect(sent + main.droppedEvents).toBe(4000);
    expect(main.droppedEvents).toBeGreaterThan(0);
    expect(main.bytes).toBeLessThanOrEqual(100 * 1024);
    expect(main.bytes).toBe(posted.reduce((n, m) => n + Math.ceil(m.data.byteLength / 1024) * 1024, 0));
    // the main thread spooled them: room again
    for (const m of posted) main.done(m.data.byteLength);
    expect(main.bytes).toBe(0);
    const before = posted.length;
    for (let i = 0; i < 100; i++) wc.buffer.capture(click(i), visit);
    wc.buffer.flush();
    await new Promise((r) => setTimeout(r, 20));
    expect(posted.length).toBe(before + 1);
    port1.close();
    port2.close();
  });
});
