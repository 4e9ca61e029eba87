import { describe, expect, it } from 'vitest';
import { clientIp } from './client-ip.js';
import { cidrContains, ipFromBytes, parseCidr, parseIp, type Cidr } from './ip.js';

const cidrs = (...s: string[]): Cidr[] => s.map((c) => parseCidr(c)!);

describe('parseIp / parseCidr', () => {
  const ips: [string, string | null][] = [
    ['1.2.3.4', '1.2.3.4'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['0000:0000:0000:0000:0000:ffff:c000:0201', '192.0.2.1'],
    ['01.2.3.4', null],
    ['1.2.3', null],
    ['256.1.1.1', null],
    ['1.2.3.4.5', null],
    ['0x7f.0.0.1', null],
    ['', null],
    ['abc', null],
    ['1.2.3.4 ', null],
    ['::g', null],
  ];
  for (const [raw, text] of ips) {
    it(`${JSON.stringify(raw)} → ${text}`, () => expect(parseIp(raw)?.text ?? null).toBe(text));
  }

  const contains: [string, string, boolean][] = [
    ['10.0.0.0/8', '10.20.30.40', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['0.0.0.0/0', '8.8.8.8', true],
    ['192.168.1.7', '192.168.1.7', true],
    ['192.168.1.7', '192.168.1.8', false],
    ['192.168.1.0/31', '192.168.1.1', true],
    ['192.168.1.0/31', '192.168.1.2', false],
    ['2001:db8::/32', '2001:db8:1234::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8:aaaa:bbbb::/64', '2001:db8:aaaa:bbbb:1:2:3:4', true],
    ['2001:db8:aaaa:bbbb::/64', '2001:db8:aaaa:bbbc::1', false],
    ['::/0', '2001:db8::1', true],
    ['::/0', '1.2.3.4', false],
    ['::ffff:10.0.0.0/104', '10.1.1.1', true],
    ['10.0.0.0/8', '::ffff:10.1.1.1', true],
  ];
  for (const [cidr, ip, expected] of contains) {
    it(`${cidr} ∋ ${ip}: ${expected}`, () => expect(cidrContains(parseCidr(cidr)!, parseIp(ip)!)).toBe(expected));
  }

  it('rejects bad CIDRs', () => {
    for (const bad of ['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/-1', 'x/8', '10.0.0.0/8/8']) expect(parseCidr(bad)).toBeNull();
  });
});

describe('ipFromBytes (uWS getRemoteAddress)', () => {
  const cases: [number[], string | null][] = [
    [[203, 0, 113, 5], '203.0.113.5'],
    [[0, 0, 0, 0], '0.0.0.0'],
    [[255, 255, 255, 255], '255.255.255.255'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 127, 0, 0, 1], '127.0.0.1'],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    [[0x2a, 0x00, 0x14, 0x50, 0x40, 0x01, 0x08, 0x1c, 0, 0, 0, 0, 0, 0, 0x20, 0x0e], '2a00:1450:4001:81c::200e'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 255, 255, 1, 2, 3, 4], '::1:ffff:102:304'],
    [[], null],
    [[1, 2, 3], null],
    [[1, 2, 3, 4, 5, 6, 7, 8], null],
  ];
  for (const [bytes, text] of cases) {
    it(`[${bytes.join(',')}] → ${text}: the same address parseIp gives for its text`, () => {
      const ip = ipFromBytes(Uint8Array.from(bytes));
      expect(ip?.text ?? null).toBe(text);
      if (text !== null) expect(ip).toEqual(parseIp(text));
    });
  }
});

describe('clientIp with TRUSTED_PROXIES', () => {
  const lb = cidrs('10.0.0.0/8', 'fd00::/8');
  const cases: { peer: string; xff: string; trusted: Cidr[]; expect: string | null }[] = [
    { peer: '203.0.113.5', xff: '1.1.1.1', trusted: [], expect: '203.0.113.5' },
    { peer: '203.0.113.5', xff: '1.1.1.1', trusted: lb, expect: '203.0.113.5' },
    { peer: '10.0.0.2', xff: '1.1.1.1', trusted: lb, expect: '1.1.1.1' },
    { peer: '10.0.0.2', xff: '6.6.6.6, 1.1.1.1', trusted: lb, expect: '1.1.1.1' },
    { peer: '10.0.0.2', xff: '6.6.6.6, 1.1.1.1, 10.0.0.9', trusted: lb, expect: '1.1.1.1' },
    { peer: '10.0.0.2', xff: '10.0.0.8, 10.0.0.9', trusted: lb, expect: '10.0.0.8' },
    { peer: '10.0.0.2', xff: '', trusted: lb, expect: '10.0.0.2' },
    { peer: '10.0.0.2', xff: 'garbage', trusted: lb, expect: '10.0.0.2' },
    { peer: '10.0.0.2', xff: '6.6.6.6, garbage, 10.0.0.3', trusted: lb, expect: '10.0.0.3' },
    { peer: '10.0.0.2', xff: '1.1.1.1:4711', trusted: lb, expect: '1.1.1.1' },
    { peer: '10.0.0.2', xff: '[2001:db8::5]:443', trusted: lb, expect: '2001:db8::5' },
    { peer: 'fd00::1', xff: '2001:db8::5', trusted: lb, expect: '2001:db8::5' },
    { peer: '::ffff:10.0.0.2', xff: '1.1.1.1', trusted: lb, expect: '1.1.1.1' },
    { peer: 'not an ip', xff: '1.1.1.1', trusted: lb, expect: null },
  ];
  for (const c of cases) {
    it(`peer ${c.peer}, X-Forwarded-For ${JSON.stringify(c.xff)} → ${c.expect}`, () => {
      expect(clientIp(parseIp(c.peer), c.xff, c.trusted)?.text ?? null).toBe(c.expect);
    });
  }
});
