import { describe, expect, it } from 'vitest';
import { Backoff, OutageLog } from './outage-log.js';
import type { Logger } from './logger.js';

function recorder() {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => lines.push({ level, msg, fields });
  return { lines, log: { warn: at('warn'), info: at('info') } as unknown as Logger };
}

describe('OutageLog', () => {
  it('logs down once, still down once a minute, back once; nothing while healthy', () => {
    let now = 1_000;
    const { lines, log } = recorder();
    const o = new OutageLog(log, 'outbox relay', { now: () => now });
    o.ok();
    expect(lines).toEqual([]);
    // 10 failures a second for 150 s
    for (let i = 0; i < 1500; i++) {
      o.failed(new Error(`connect ECONNREFUSED ${i}`));
      now += 100;
    }
    expect(o.down).toBe(true);
    o.ok();
    o.ok();
    expect(o.down).toBe(false);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'outbox relay failing; retrying with backoff'],
      ['warn', 'outbox relay still failing'],
      ['warn', 'outbox relay still failing'],
      ['info', 'outbox relay recovered'],
    ]);
    expect((lines[0]!.fields.err as Error).message).toBe('connect ECONNREFUSED 0');
    expect(lines[1]!.fields).toEqual({ failures: 601, down_for_ms: 60_000, error: 'connect ECONNREFUSED 600' });
    expect(lines[2]!.fields).toEqual({ failures: 1201, down_for_ms: 120_000, error: 'connect ECONNREFUSED 1200' });
    expect(lines[3]!.fields).toEqual({ failures: 1500, down_for_ms: 150_000 });
    // a second outage starts from scratch
    o.failed('again');
    expect(lines.at(-1)!.msg).toBe('outbox relay failing; retrying with backoff');
  });
});

describe('Backoff', () => {
  it('doubles up to the ceiling and starts over after reset', () => {
    const b = new Backoff(100, 1_000);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });
});
