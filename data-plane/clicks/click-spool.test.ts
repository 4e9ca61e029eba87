/**
 * Spool + shipper against a private nats-server: batches survive a restart, wait out a NATS
 * outage on disk and ship once it is back (each stored once), the bound drops the oldest with a
 * count, a half-written file is never shipped.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, decodeClickBatch, encodeClickBatch, natsNames, newClickId, type ClickEvent } from '../../shared/index.js';
import { startNatsServer, waitFor, type NatsServer } from '../../shared/testing/index.js';
import { ClickShipper } from './click-shipper.js';
import { ClickSpool } from './click-spool.js';

const log = createLogger({ name: 'test-spool', level: process.env.LP_TEST_LOG ?? 'silent' });
const prefix = 'lpspool';

function batch(n: number, seq: number): { id: string; bytes: Uint8Array } {
  const events: ClickEvent[] = Array.from({ length: n }, (_, i) => {
    const at = Date.now() + seq * 1000 + i;
    return {
      v: 1, id: newClickId(at), occurredAt: at, linkId: 'ln_01JD0000000000000000000001', workspaceId: 'ws_1', domain: 'd.example',
      path: `p${seq}`, destination: 'https://e.example/', ruleId: null, variantId: null, country: 'DE', deviceClass: 'mobile', os: 'ios',
      browser: 'safari', referrerHost: null, language: null, bot: false, qr: false, utm: null, nodeId: 'node-s', visitorHash: 'ab'.repeat(16),
    };
  });
  const id = newClickId(Date.now() + seq);
  return { id, bytes: encodeClickBatch({ v: 1, nodeId: 'node-s', batchId: id, events }) };
}

describe('click spool and shipper', () => {
  let nats: NatsServer;
  let nc: NatsConnection | null = null;
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'lp-spool-'));
    dirs.push(d);
    return d;
  };
  // the shipper's connection: reconnects forever, like the node's
  const natsConn = async () => (nc ??= await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 }));
  const streamMessages = async () => {
    const c = await connect({ servers: nats.url });
    try {
      return (await (await jetstreamManager(c)).streams.info(natsNames(prefix).clicksStream)).state.messages;
    } finally {
      await c.close();
    }
  };
  const shippedIds = async (): Promise<string[]> => {
    const c = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(c);
      const info = await jsm.streams.info(natsNames(prefix).clicksStream);
      const ids: string[] = [];
      for (let s = info.state.first_seq; s <= info.state.last_seq && info.state.messages > 0; s++) {
        const m = await jsm.streams.getMessage(natsNames(prefix).clicksStream, { seq: s }).catch(() => null);
        if (m) ids.push(decodeClickBatch(m.data).batch.batchId);
      }
      return ids;
    } finally {
      await c.close();
    }
  };

  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await nats?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('keeps the newest batches in memory up to memoryBytes: those are read without their file, the rest from disk', async () => {
    const dir = newDir();
    const [a, b, c] = [batch(3, 1), batch(3, 2), batch(3, 3)];
    const spool = ClickSpool.open({ dir, maxBytes: 1 << 20, log, memoryBytes: a.bytes.byteLength + b.bytes.byteLength });
    for (const x of [a, b, c]) await spool.append(x.id, x.bytes, 3);
    const [ea, eb, ec] = spool.take(3);
    // every batch is on disk all the same (a crash loses nothing)
    expect(readdirSync(dir).sort()).toEqual([a, b, c].map((x) => `${x.id}.3.clk`).sort());
    for (const e of [ea!, eb!]) rmSync(e.file);
    expect(Buffer.from(await spool.read(ea!))).toEqual(Buffer.from(a.bytes));
    expect(Buffer.from(await spool.read(eb!))).toEqual(Buffer.from(b.bytes));
    expect(Buffer.from(await spool.read(ec!))).toEqual(Buffer.from(c.bytes)); // past the budget: from its file
    await spool.done(ea!);
    // the budget freed by a shipped batch is used again
    const d = batch(3, 4);
    await spool.append(d.id, d.bytes, 3);
    const [ed] = spool.take(1);
    rmSync(ed!.file);
    expect(Buffer.from(await spool.read(ed!))).toEqual(Buffer.from(d.bytes));
    // a batch found at start is read from disk
    const again = ClickSpool.open({ dir, maxBytes: 1 << 20, log });
    const found = again.take(10);
    expect(found.map((e) => e.batchId)).toEqual([c.id]);
    expect(Buffer.from(await again.read(found[0]!))).toEqual(Buffer.from(c.bytes));
  });

  it('ships every batch once, deletes it after its PubAck; keeps them on disk while NATS is down', async () => {
    const dir = newDir();
    const spool = ClickSpool.open({ dir, maxBytes: 50 * 1024 * 1024, log });
    let shippedEvents = 0;
    const shipper = new ClickShipper({ spool, nats: natsConn, prefix, nodeId: 'node-s', log, onShipped: (e) => (shippedEvents += e) });
    shipper.start();
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const b = batch(100, i);
      sent.push(b.id);
      await spool.append(b.id, b.bytes, 100);
    }
    await waitFor('shipped', () => spool.size.batches === 0, 10_000);
    expect(readdirSync(dir)).toEqual([]);
    expect(shippedEvents).toBe(2000);

    await nats.stop();
    for (let i = 20; i < 40; i++) {
      const b = batch(100, i);
      sent.push(b.id);
      await spool.append(b.id, b.bytes, 100);
    }
    await new Promise((r) => setTimeout(r, 1_500));
    expect(spool.size).toMatchObject({ batches: 20, events: 2000 });
    expect(readdirSync(dir).length).toBe(20);
    await nats.start();
    await waitFor('drained after the outage', () => spool.size.batches === 0, 30_000);
    await shipper.stop();
    expect((await shippedIds()).sort()).toEqual([...sent].sort());
    expect(shippedEvents).toBe(4000);
  });

  it('a restart drains what the previous run spooled; a half-written file is thrown away', async () => {
    const dir = newDir();
    const first = ClickSpool.open({ dir, maxBytes: 50 * 1024 * 1024, log });
    const before = await streamMessages();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const b = batch(10, 100 + i);
      ids.push(b.id);
      await first.append(b.id, b.bytes, 10);
    }
    writeFileSync(join(dir, `${newClickId(Date.now())}.10.clk.tmp`), 'half a batch');
    // the process died here; a new one opens the same directory
    const spool = ClickSpool.open({ dir, maxBytes: 50 * 1024 * 1024, log });
    expect(spool.size).toMatchObject({ batches: 5, events: 50 });
    const shipper = new ClickShipper({ spool, nats: natsConn, prefix, nodeId: 'node-s', log });
    shipper.start();
    await waitFor('drained', () => spool.size.batches === 0, 10_000);
    await shipper.stop();
    expect(readdirSync(dir)).toEqual([]);
    expect(await streamMessages()).toBe(before + 5);
  });

  it('past CLICK_SPOOL_MAX_MB the oldest batches are dropped, counted and logged; the newest stay', async () => {
    const dir = newDir();
    const lines: Record<string, unknown>[] = [];
    const capture = createLogger({ name: 'cap', level: 'warn' }).child({});
    capture.warn = ((obj: Record<string, unknown>) => lines.push(obj)) as typeof capture.warn;
    const sizes = batch(100, 0).bytes.length;
    let dropped = { events: 0, batches: 0 };
    const spool = ClickSpool.open({
      dir, maxBytes: sizes * 5 + 10, log: capture,
      onDrop: (events, batches) => (dropped = { events: dropped.events + events, batches: dropped.batches + batches }),
    });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const b = batch(100, 200 + i);
      ids.push(b.id);
      await spool.append(b.id, b.bytes, 100);
    }
    expect(dropped).toEqual({ events: 300, batches: 3 });
    expect(spool.size).toMatchObject({ batches: 5, events: 500 });
    expect(readdirSync(dir).map((f) => f.split('.')[0]).sort()).toEqual(ids.slice(3).sort());
    expect(lines[0]).toMatchObject({ droppedEvents: 100, droppedBatches: 1 });
  });
});
