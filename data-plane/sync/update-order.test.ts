import { describe, expect, it } from 'vitest';
import { UpdateOrder } from './update-order.js';

describe('UpdateOrder: live updates and KV entries ordered by outbox sequence', () => {
  it('applies a live update newer than anything known, and ignores a stale or repeated one', () => {
    const o = new UpdateOrder();
    expect(o.live('k', 10)).toBe(true);
    expect(o.live('k', 10)).toBe(false); // a repeat of the same row
    expect(o.live('k', 9)).toBe(false); // an older row arriving late
    expect(o.live('k', 11)).toBe(true);
    expect(o.unconfirmed).toBe(1);
  });

  it('ignores a live update older than a KV entry the node applied (remembered while serving live)', () => {
    const o = new UpdateOrder();
    expect(o.kv('k', 21, true)).toBe(true);
    expect(o.live('k', 20)).toBe(false);
    expect(o.live('k', 21)).toBe(false);
    expect(o.live('k', 22)).toBe(true);
  });

  it('does not write a KV entry older than an unconfirmed live update; one as new confirms it', () => {
    const o = new UpdateOrder();
    o.live('k', 31);
    expect(o.kv('k', 30, true)).toBe(false); // the stream catching up must not serve the older value again
    expect(o.unconfirmed).toBe(1);
    expect(o.kv('k', 31, true)).toBe(true);
    expect(o.unconfirmed).toBe(0);
    expect(o.kv('k', 30, true)).toBe(true); // KV order is authoritative once nothing live is pending
  });

  it('keeps a live delete against the put before it, then takes a re-create', () => {
    const o = new UpdateOrder();
    expect(o.live('k', 40)).toBe(true); // put
    expect(o.live('k', 41)).toBe(true); // delete
    expect(o.kv('k', 40, true)).toBe(false); // the put's KV entry, late
    expect(o.kv('k', 41, true)).toBe(true); // the delete marker confirms
    expect(o.live('k', 41)).toBe(false);
    expect(o.live('k', 42)).toBe(true); // created again
  });

  it('treats a KV entry without a sequence (an older relay, a hand-made write) as authoritative', () => {
    const o = new UpdateOrder();
    o.live('k', 50);
    expect(o.kv('k', null, true)).toBe(true);
    expect(o.unconfirmed).toBe(0);
    expect(o.size).toBe(0);
  });

  it('does not remember KV entries unless asked (a node replaying before it is ready)', () => {
    const o = new UpdateOrder();
    expect(o.kv('k', 60, false)).toBe(true);
    expect(o.size).toBe(0);
  });

  it('stays within its bound: a key touched within the last maxKeys / 2 others is remembered, older ones go by generation', () => {
    const o = new UpdateOrder(4); // generations of 2
    o.live('a', 1);
    o.kv('b', 2, true); // the young generation is full: a and b become the old one
    o.live('c', 3);
    o.live('a', 4); // touched again: back in the young generation, which is full again (c, a); b is forgotten
    expect(o.size).toBeLessThanOrEqual(4);
    expect(o.unconfirmed).toBe(2); // c and a
    expect(o.live('b', 1)).toBe(true); // b was forgotten
    expect(o.live('a', 4)).toBe(false); // a is still remembered
    expect(o.live('c', 3)).toBe(false);
    o.kv('d', 5, true); // young (b, d) full: c and a are forgotten with their generation
    expect(o.unconfirmed).toBe(1); // b
    expect(o.live('a', 4)).toBe(true);
  });

  it('keeps its counts right when a bulk import streams through it (one KV entry per key, remembered)', () => {
    const o = new UpdateOrder(1000);
    o.live('hot', 5);
    let written = 0;
    for (let i = 0; i < 10_000; i++) if (o.kv(`k${i}`, 10 + i, true)) written++;
    expect(written).toBe(10_000);
    expect(o.size).toBeLessThanOrEqual(1000);
    expect(o.unconfirmed).toBe(0); // the unconfirmed live update was forgotten with its generation
    expect(o.live('k9999', 10 + 9999)).toBe(false); // the newest KV entries are remembered
    expect(o.live('k9999', 10 + 10_000)).toBe(true);
    expect(o.kv('k9999', 10 + 9999, true)).toBe(false); // older than the live update now pending
    expect(o.unconfirmed).toBe(1);
  });
});
