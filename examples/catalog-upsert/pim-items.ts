/**
 * A PIM export (CSV: sku, title, category, optional url, …) as linkplane bulk items, one at a time: the file is
 * parsed as a stream (csv-parse), so a catalog of any size never sits in memory.
 */
import { parse } from 'csv-parse';
import type { Readable } from 'node:stream';

export interface CatalogConfig {
  /** The branded short domain (registered with POST /v1/domains). */
  domain: string;
  /** The shop's product page for a SKU. */
  productUrl: (sku: string) => string;
  /** utm_campaign for this season's links. */
  campaign: string;
}

export interface BulkItem {
  domain: string;
  path: string;
  external_id: string;
  destination_url: string;
  tags: string[];
  utm: { source: string; medium: string; campaign: string };
  metadata: { title: string };
}

/** Every row of `csv` as an upsert item: identity `pim-<sku>`, path `sku-<sku>`. */
export async function* pimItems(csv: Readable, config: CatalogConfig): AsyncGenerator<BulkItem> {
  const rows = csv.pipe(parse({ columns: true, skip_empty_lines: true, trim: true, bom: true }));
  for await (const row of rows as AsyncIterable<Record<string, string>>) {
    const sku = row.sku ?? '';
    yield {
      domain: config.domain,
      path: `sku-${sku}`,
      external_id: `pim-${sku}`,
      destination_url: row.url || config.productUrl(sku),
      tags: ['catalog', row.category || 'misc'],
      utm: { source: 'catalog', medium: 'pim', campaign: config.campaign },
      metadata: { title: row.title ?? '' },
    };
  }
}
