import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseIp } from '../ip.js';
import { networkKey, truncatedIp, VisitorHasher, visitorHash } from './visitor-hash.js';

const ip = (s: string) => parseIp(s)!;

describe('visitor hash', () => {
  const truncations: [string, string][] = [
    ['203.0.113.77', '203.0.113.0/24'],
    ['10.1.2.3', '10.1.2.0/24'],
    ['::ffff:198.51.100.9', '198.51.100.0/24'],
    ['2001:db8:1234:5678::1', '2001:db8:1234::/48'],
    ['2001:db8:ab::ffff', '2001:db8:ab::/48'],
    ['[2a00:1450:4001:81c::200e]', '2a00:1450:4001::/48'],
  ];
  for (const [addr, net] of truncations) {
    it(`truncates ${addr} to ${net}`, () => expect(truncatedIp(ip(addr))).toBe(net));
  }
  it('an unknown address truncates to nothing', () => expect(truncatedIp(null)).toBe(''));

  it('the network key is one number per truncated network: equal exactly when the truncations are', () => {
    const addrs = [...truncations.map(([a]) => a), '203.0.113.1', '203.0.114.77', '0.0.1.0', '::1', '::ffff:0.0.1.0', '2001:db8:1234:ffff::9', '2001:db8:1235::1', 'ffff:ffff:ffff::1'];
    for (const a of addrs) {
      for (const b of addrs) expect(networkKey(ip(a)) === networkKey(ip(b)), `${a} vs ${b}`).toBe(truncatedIp(ip(a)) === truncatedIp(ip(b)));
      expect(Number.isSafeInteger(networkKey(ip(a)))).toBe(true);
    }
    expect(networkKey(null)).toBe(-1);
  });

  const salt = Buffer.alloc(32, 7);
  const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148';

  it('is HMAC-SHA256(salt, network + "\\n" + agent), first 16 bytes', () => {
    const want = createHmac('sha256', salt).update(`203.0.113.0/24\n${ua}`).digest().subarray(0, 16);
    expect(visitorHash(salt, ip('203.0.113.77'), ua)).toEqual(want);
  });

  it('the same network and agent hash alike; another network, agent or salt does not', () => {
    const a = visitorHash(salt, ip('203.0.113.77'), ua);
    expect(visitorHash(salt, ip('203.0.113.200'), ua)).toEqual(a);
    expect(visitorHash(salt, ip('203.0.114.77'), ua)).not.toEqual(a);
    expect(visitorHash(salt, ip('203.0.113.77'), `${ua} x`)).not.toEqual(a);
    expect(visitorHash(Buffer.alloc(32, 8), ip('203.0.113.77'), ua)).not.toEqual(a);
  });

  it('the hasher uses the salt of the click\'s day, caches, and has no salt for an unknown day', () => {
    const salts = new Map([[20000, Buffer.alloc(32, 1)], [20001, Buffer.alloc(32, 2)]]);
    let lookups = 0;
    const h = new VisitorHasher((d) => (lookups++, salts.get(d)));
    const d0 = h.hash(20000, ip('192.0.2.1'), ua)!;
    expect(d0).toEqual(visitorHash(salts.get(20000)!, ip('192.0.2.1'), ua));
    expect(h.hash(20000, ip('192.0.2.99'), ua)).toBe(d0); // cached: same object
    const d1 = h.hash(20001, ip('192.0.2.1'), ua)!;
    expect(d1).not.toEqual(d0); // the same visitor on two days
    expect(h.hash(20002, ip('192.0.2.1'), ua)).toBeNull();
    expect(lookups).toBe(4);
  });
});
