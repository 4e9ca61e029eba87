/**
 * The bulk writer writes a new link's `link.*` event payload out by hand (resourceJson, a third of
 * JSON.stringify(toResource(row))'s cost): it must stay the resource every other path sends.
 */
import { describe, expect, it } from 'vitest';
import { resourceJson } from './link-bulk-writer.js';
import { toResource } from './link-row.js';
import { rowAfter, type LinkValues } from './link-values.js';

const base: LinkValues = {
  domain_id: 'dom_1', domain: 'go.example.com', path: 'spring-sale', destination_url: 'https://shop.example.com/sale?x="1"',
  utm: null, routing: null, redirect_status: 302, forward_query: false, tags: [], expires_at: null, disabled: false,
  status: 'live', metadata: {}, external_id: null, review_requested_by: null, live_values: null,
};

describe('resourceJson', () => {
  const now = new Date('2026-12-04T03:30:00.123Z');
  const cases: [string, Partial<LinkValues>][] = [
    ['a plain link', {}],
    ['every optional field set', {
      utm: { source: 'news', medium: 'email' }, routing: { rules: [{ when: { country: ['DE'] }, url: 'https://de.example.com/' }] },
      redirect_status: 301, forward_query: true, tags: ['a', 'b "c"'], expires_at: '2027-01-01T00:00:00.000Z', disabled: true,
      status: 'pending', metadata: { sku: 'A-1', n: 2, nested: { ok: true } }, external_id: 'ext-ünï\ncode',
    }],
  ];
  for (const [name, values] of cases) {
    it(`is JSON.stringify(toResource(row)) for ${name}`, () => {
      const row = rowAfter({ ...base, ...values } as LinkValues, 'ln_01TEST', 'ws_1', null, 'key_1', now, false);
      expect(JSON.parse(resourceJson(row, 'https', now.toISOString()))).toEqual(JSON.parse(JSON.stringify(toResource(row, 'https'))));
    });
  }
});
