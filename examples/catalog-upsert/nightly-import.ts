/**
 * The nightly catalog upsert: stream the PIM export through a bulk job (operation `upsert`), keyed
 * by the night, so a re-run of the same night returns the same job instead of a second import,
 * and an unchanged product writes nothing (`unchanged` in the results).
 */
import { createReadStream } from 'node:fs';
import type { Job, Linkplane } from '@linkplane/sdk';
import { pimItems, type CatalogConfig } from './pim-items.js';

export interface ImportOptions extends CatalogConfig {
  /** The night being imported, e.g. 2026-12-03: part of the Idempotency-Key. */
  night: string;
  /** How often to poll the job while it runs (default 1 000 ms). */
  pollMs?: number;
  onProgress?: (job: Job) => void;
}

export async function nightlyImport(lp: Linkplane, csvPath: string, opts: ImportOptions): Promise<Job> {
  const accepted = await lp.jobs.upload(pimItems(createReadStream(csvPath), opts), {
    format: 'ndjson',
    operation: 'upsert',
    idempotencyKey: `catalog-${opts.night}`,
  });
  return lp.jobs.wait(accepted.job_id, { intervalMs: opts.pollMs, onProgress: opts.onProgress });
}
