import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pimItems } from './pim-items.js';

describe('PIM export → bulk items', () => {
  it('streams each row as an upsert item identified by its SKU', async () => {
    const csv = '\uFEFFsku,title,category,url\n1001,"Trail shoe, blue",shoes,\n1002,Sock,,https://shop.example.com/socks\n\n';
    const items = [];
    for await (const item of pimItems(Readable.from([csv]), { domain: 'go.shop.example.com', productUrl: (s) => `https://shop.example.com/p/${s}`, campaign: 'spring_26' })) {
      items.push(item);
    }
    const utm = { source: 'catalog', medium: 'pim', campaign: 'spring_26' };
    expect(items).toEqual([
      { domain: 'go.shop.example.com', path: 'sku-1001', external_id: 'pim-1001', destination_url: 'https://shop.example.com/p/1001', tags: ['catalog', 'shoes'], utm, metadata: { title: 'Trail shoe, blue' } },
      { domain: 'go.shop.example.com', path: 'sku-1002', external_id: 'pim-1002', destination_url: 'https://shop.example.com/socks', tags: ['catalog', 'misc'], utm, metadata: { title: 'Sock' } },
    ]);
  });
});
