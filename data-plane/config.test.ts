import { describe, expect, it } from 'vitest';
import { ConfigError } from '../shared/index.js';
import { loadDataPlaneConfig } from './config.js';

describe('data-plane config', () => {
  it('has the documented defaults', () => {
    const c = loadDataPlaneConfig({ NODE_ID: 'n1' });
    expect(c).toMatchObject({ PORT: 8081, HOST: '0.0.0.0', NATS_PREFIX: 'lp', NATS_URL: 'nats://127.0.0.1:4222', LMDB_PATH: '.data/node-n1', TRUSTED_PROXIES: [] });
    expect(c.WORKERS).toBeGreaterThanOrEqual(1);
    expect(c.GEOIP_DB).toMatch(/GeoLite2-Country\.mmdb$/);
  });

  it('lists every problem at once', () => {
    let err: unknown;
    try {
      loadDataPlaneConfig({ PORT: 'x', WORKERS: '0', NODE_ID: 'bad id!', TRUSTED_PROXIES: '10.0.0.0/8,not-a-cidr,300.1.1.1', GEOIP_DB: '/nope.mmdb', NATS_PREFIX: 'a.b' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    for (const p of ['PORT="x" is not an integer', 'WORKERS="0" is below 1', 'NODE_ID="bad id!" must match', 'NATS_PREFIX="a.b" must match']) expect(problems).toContain(p);
  });

  it('checks CIDRs and the geo database once the basic values are valid', () => {
    expect(() => loadDataPlaneConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::/32' })).not.toThrow();
    try {
      loadDataPlaneConfig({ TRUSTED_PROXIES: '10.0.0.0/8,not-a-cidr,10.0.0.0/40', GEOIP_DB: '/nope.mmdb' });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).problems).toEqual([
        'TRUSTED_PROXIES: "not-a-cidr" is not an IP address or CIDR',
        'TRUSTED_PROXIES: "10.0.0.0/40" is not an IP address or CIDR',
        'GEOIP_DB="/nope.mmdb" does not exist',
      ]);
    }
  });
});
