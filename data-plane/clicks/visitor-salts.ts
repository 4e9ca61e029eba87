/**
 * The daily salts of visitor hashes, shared by every node through a JetStream KV bucket
 * (`<prefix>_click_salts`, key = UTC day) so the same visitor hashes the same on all nodes that
 * day. Entries expire after 3 days (JetStream deletes them); the node keeps today's and tomorrow's
 * in its spool directory (so it can hash with NATS down and across restarts) and deletes older
 * ones. With no salt anywhere for a day, the first node to need it creates it (KV `create`: one
 * winner); a node that cannot reach NATS makes a local one and adopts the shared one later.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { openClickSaltsBucket, type Logger } from '../../shared/index.js';

const DAY_MS = 86_400_000;
const SALT_BYTES = 32;
const FILE = /^(\d{4}-\d{2}-\d{2})\.salt$/;

export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);
const dayKey = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

export interface VisitorSaltsOptions {
  dir: string;
  prefix: string;
  nats: () => Promise<NatsConnection>;
  log: Logger;
  replicas?: number;
  /** Called whenever the set of salts changes (to forward them to the workers). */
  onChange?(salts: ReadonlyMap<number, Uint8Array>): void;
  now?: () => number;
}

export class VisitorSalts {
  private readonly salts = new Map<number, Uint8Array>();
  private timer: NodeJS.Timeout | null = null;
  private kv: KV | null = null;
  private syncing: Promise<void> | null = null;

  constructor(private readonly opts: VisitorSaltsOptions) {
    mkdirSync(opts.dir, { recursive: true });
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The days a node needs: yesterday (only just after midnight, for late flushes), today, tomorrow. */
  private wanted(): number[] {
    const now = this.now();
    const today = dayOf(now);
    const days = [today, today + 1];
    if (now - today * DAY_MS < 10 * 60_000) days.unshift(today - 1);
    return days;
  }

  get current(): ReadonlyMap<number, Uint8Array> {
    return this.salts;
  }

  /** Loads the local salts and makes sure today and tomorrow have one (local if need be). */
  loadLocal(): void {
    for (const f of readdirSync(this.opts.dir)) {
      const m = FILE.exec(f);
      if (!m) continue;
      const day = dayOf(Date.parse(`${m[1]}T00:00:00Z`));
      const salt = readFileSync(join(this.opts.dir, f));
      if (salt.length === SALT_BYTES) this.salts.set(day, salt);
    }
    for (const day of this.wanted()) if (!this.salts.has(day) && day >= dayOf(this.now())) this.setLocal(day, randomBytes(SALT_BYTES), 'local');
    this.prune();
  }

  private setLocal(day: number, salt: Uint8Array, source: 'local' | 'shared'): void {
    const file = join(this.opts.dir, `${dayKey(day)}.salt`);
    writeFileSync(`${file}.tmp`, salt, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    this.salts.set(day, salt);
    this.opts.log.debug({ day: dayKey(day), source }, 'visitor salt set');
  }

  /** Forgets and deletes every salt of a day no longer needed. */
  private prune(): void {
    const keep = new Set(this.wanted());
    for (const day of [...this.salts.keys()]) if (!keep.has(day)) this.salts.delete(day);
    for (const f of readdirSync(this.opts.dir)) {
      const m = FILE.exec(f);
      if (m && !keep.has(dayOf(Date.parse(`${m[1]}T00:00:00Z`)))) unlinkSync(join(this.opts.dir, f));
    }
  }

  /** Agrees with the shared bucket on today's and tomorrow's salts. */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const before = new Map(this.salts);
    const nc = await this.opts.nats();
    // the control plane creates it with KV_REPLICAS; a node first on a fresh NATS creates it with its own
    this.kv ??= await openClickSaltsBucket(nc, this.opts.prefix, { replicas: this.opts.replicas ?? 1 });
    for (const day of this.wanted()) {
      if (day < dayOf(this.now())) continue;
      const key = dayKey(day);
      const entry = await this.kv.get(key);
      if (entry && entry.operation === 'PUT' && entry.value.length === SALT_BYTES) {
        const shared = entry.value;
        const mine = this.salts.get(day);
        if (!mine || Buffer.compare(Buffer.from(mine), Buffer.from(shared)) !== 0) {
          if (mine) this.opts.log.info({ day: key }, 'adopting the shared visitor salt');
          this.setLocal(day, shared, 'shared');
        }
        continue;
      }
      const salt = this.salts.get(day) ?? randomBytes(SALT_BYTES);
      try {
        await this.kv.create(key, salt);
        this.setLocal(day, salt, 'shared');
      } catch {
        // another node created it first: take theirs
        const e = await this.kv.get(key);
        if (e && e.value.length === SALT_BYTES) this.setLocal(day, e.value, 'shared');
      }
    }
    this.prune();
    let changed = before.size !== this.salts.size;
    for (const [d, s] of this.salts) if (before.get(d) !== s) changed = true;
    if (changed) this.opts.onChange?.(this.salts);
  }

  /** Loads local salts now; then keeps agreeing with the bucket (every minute) and rotating at midnight. */
  start(): void {
    this.loadLocal();
    const tick = () => {
      const before = new Map(this.salts);
      // a new day needs its salt locally right away, whatever NATS does
      for (const day of this.wanted()) if (!this.salts.has(day) && day >= dayOf(this.now())) this.setLocal(day, randomBytes(SALT_BYTES), 'local');
      this.prune();
      if (before.size !== this.salts.size || [...this.salts].some(([d, s]) => before.get(d) !== s)) this.opts.onChange?.(this.salts);
      void this.sync().catch((err: unknown) => this.opts.log.debug({ err }, 'visitor salt sync failed; using local salts'));
    };
    tick();
    this.timer = setInterval(tick, 60_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
