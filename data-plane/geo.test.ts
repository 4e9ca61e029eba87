import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Reader, type CountryResponse } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { defaultGeoipDb } from './config.js';
import { loadGeoDatabase, openGeo } from './geo.js';
import { ipFromBytes, parseIp } from './ip.js';

/** A deterministic spread of addresses: every /8 of IPv4, and IPv6 across the allocated space. */
function addresses(): string[] {
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const out = ['0.0.0.0', '255.255.255.255', '127.0.0.1', '10.1.2.3', '192.168.1.1', '8.8.8.8', '1.1.1.1', '81.2.69.160', '2001:db8::1', '::1', '::', '2a00:1450:4001:81b::200e', '2001:4860:4860::8888'];
  for (let i = 0; i < 4000; i++) out.push(`${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`);
  for (let i = 0; i < 1000; i++) {
    const words = [0x2000 + Math.floor(rnd() * 0x1000)];
    for (let k = 0; k < 7; k++) words.push(Math.floor(rnd() * 0x10000));
    out.push(words.map((w) => w.toString(16)).join(':'));
  }
  return out;
}

const COUNTRY_DB = defaultGeoipDb();
const CITY_DB = join(dirname(COUNTRY_DB), 'GeoLite2-City.mmdb');

describe('geo: the tree walk from the parsed address answers what mmdb-lib answers from its text', () => {
  // the country database (24-bit records) and the city one (28-bit records): both record layouts
  for (const file of [COUNTRY_DB, CITY_DB]) {
    it(file.split('/').pop()!, () => {
      const bytes = readFileSync(file);
      const reference = new Reader<CountryResponse>(bytes);
      const geo = openGeo(loadGeoDatabase(file));
      let found = 0;
      for (const text of addresses()) {
        const ip = parseIp(text)!;
        const r = reference.get(ip.text);
        const expected = r?.country?.iso_code ?? r?.registered_country?.iso_code ?? null;
        if (expected !== null) found++;
        expect([text, geo.country(ip)]).toEqual([text, expected]);
        // twice: the second answer comes from the record cache
        expect([text, geo.country(ip)]).toEqual([text, expected]);
      }
      expect(found).toBeGreaterThan(1000);
    });
  }

  it('IPv4-mapped IPv6 peers are looked up as IPv4', () => {
    const geo = openGeo(readFileSync(COUNTRY_DB));
    const mapped = ipFromBytes(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 8, 8, 8, 8]))!;
    expect(mapped.v6).toBe(false);
    expect(geo.country(mapped)).toBe(geo.country(parseIp('8.8.8.8')!));
    expect(geo.country(parseIp('8.8.8.8')!)).toBe('US');
  });
});
