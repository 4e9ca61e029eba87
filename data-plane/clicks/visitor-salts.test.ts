/**
 * Daily salts: two nodes agree through the KV bucket, a node without NATS hashes with a local salt
 * and adopts the shared one later, salts of past days are deleted from disk, the bucket expires them.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, natsNames } from '../../shared/index.js';
import { cleanupNatsPrefix, testPrefix, TEST_NATS_URL } from '../../shared/testing/index.js';
import { dayOf, VisitorSalts } from './visitor-salts.js';

const log = createLogger({ name: 'test-salts', level: process.env.LP_TEST_LOG ?? 'silent' });
const NOON = Date.UTC(2026, 10, 26, 12, 0, 0);
const today = dayOf(NOON);

describe('visitor salts', () => {
  let nc: NatsConnection;
  const prefix = testPrefix('salts');
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'lp-salts-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    nc = await connect({ servers: TEST_NATS_URL });
  });
  afterAll(async () => {
    await nc?.close();
    await cleanupNatsPrefix(prefix).catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('two nodes end up with the same salts for today and tomorrow; the bucket expires entries after 3 days', async () => {
    const a = new VisitorSalts({ dir: dir(), prefix, nats: async () => nc, log, now: () => NOON });
    const b = new VisitorSalts({ dir: dir(), prefix, nats: async () => nc, log, now: () => NOON });
    a.loadLocal();
    b.loadLocal();
    expect(Buffer.from(a.current.get(today)!)).not.toEqual(Buffer.from(b.current.get(today)!));
    await Promise.all([a.sync(), b.sync()]);
    for (const d of [today, today + 1]) {
      expect(a.current.get(d)!.length).toBe(32);
      expect(Buffer.from(a.current.get(d)!)).toEqual(Buffer.from(b.current.get(d)!));
    }
    expect([...a.current.keys()].sort()).toEqual([today, today + 1]);
    const kv = await new Kvm(nc).open(natsNames(prefix).clickSaltsBucket);
    const status = await kv.status();
    expect(status.ttl).toBe(3 * 86_400_000);
  });

  it('without NATS a node hashes with local salts, and adopts the shared one when NATS is back', async () => {
    const d = dir();
    let changes = 0;
    const lonely = new VisitorSalts({
      dir: d, prefix, log, now: () => NOON, onChange: () => changes++,
      nats: () => new Promise<NatsConnection>(() => undefined), // never connects
    });
    lonely.loadLocal();
    const local = Buffer.from(lonely.current.get(today)!);
    expect(local.length).toBe(32);
    expect(readdirSync(d).sort()).toEqual(['2026-11-26.salt', '2026-11-27.salt']);
    // NATS is back (a new instance over the same directory, as after a restart)
    const back = new VisitorSalts({ dir: d, prefix, nats: async () => nc, log, now: () => NOON, onChange: () => changes++ });
    back.loadLocal();
    expect(Buffer.from(back.current.get(today)!)).toEqual(local);
    await back.sync();
    const shared = await (await new Kvm(nc).open(natsNames(prefix).clickSaltsBucket)).get('2026-11-26');
    expect(Buffer.from(back.current.get(today)!)).toEqual(Buffer.from(shared!.value));
    expect(changes).toBe(1);
  });

  it('deletes the salts of past days from disk', async () => {
    const d = dir();
    writeFileSync(join(d, '2026-11-20.salt'), Buffer.alloc(32, 1));
    writeFileSync(join(d, '2026-11-25.salt'), Buffer.alloc(32, 2));
    const s = new VisitorSalts({ dir: d, prefix, nats: async () => nc, log, now: () => NOON });
    s.loadLocal();
    expect(existsSync(join(d, '2026-11-20.salt'))).toBe(false);
    expect(existsSync(join(d, '2026-11-25.salt'))).toBe(false);
    expect([...s.current.keys()].sort()).toEqual([today, today + 1]);
    // just after midnight yesterday's salt is kept a few minutes (clicks of 23:59:59 still being flushed)
    const early = new VisitorSalts({ dir: d, prefix, nats: async () => nc, log, now: () => Date.UTC(2026, 10, 27, 0, 2) });
    early.loadLocal();
    expect([...early.current.keys()].sort()).toEqual([today, today + 1, today + 2]);
    const later = new VisitorSalts({ dir: d, prefix, nats: async () => nc, log, now: () => Date.UTC(2026, 10, 27, 0, 30) });
    later.loadLocal();
    expect([...later.current.keys()].sort()).toEqual([today + 1, today + 2]);
    expect(readdirSync(d).sort()).toEqual(['2026-11-27.salt', '2026-11-28.salt']);
  });
});
