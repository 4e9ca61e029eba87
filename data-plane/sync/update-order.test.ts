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

  it('stays within its bound, forgetting the least recently touched key first', () => {
    const o = new UpdateOrder(3);
    o.live('a', 1);
    o.kv('b', 2, true);
    o.live('c', 3);
    o.live('a', 4); // touched again: now the newest
    o.kv('d', 5, true); // evicts b
    expect(o.size).toBe(3);
    expect(o.live('b', 1)).toBe(true); // b was forgotten; inserting it evicts c, the oldest now
    expect(o.live('a', 4)).toBe(false); // a is still remembered
    expect(o.unconfirmed).toBe(2); // a and b (c's entry went with it)
  });
});
