/**
 * The nightly catalog upsert: stream the PIM export through a bulk job (operation `upsert`), keyed
 * by the night, so a re-run of the same night returns the same job instead of a second import,
 * and an unchanged product writes nothing (`unchanged` in the results).
 *
 * A stream can be sent only once per call, so the SDK does not retry an upload by itself: when the
 * answer is lost (network) or the API failed (5xx) or is still storing an earlier attempt
 * (`idempotency_in_flight`), the file is read and sent again with the same Idempotency-Key — the
 * API answers with the job the first upload created if it got that far, else makes it now.
 */
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConflictError, NetworkError, ServerError, type Job, type JobAccepted, type Linkplane } from '@linkplane/sdk';
import { pimItems, type CatalogConfig } from './pim-items.js';

export interface ImportOptions extends CatalogConfig {
  /** The night being imported, e.g. 2026-12-03: part of the Idempotency-Key. */
  night: string;
  /** Uploads tried before giving up (default 4). */
  attempts?: number;
  /** How often to poll the job while it runs (default 1 000 ms). */
  pollMs?: number;
  onProgress?: (job: Job) => void;
}

export async function nightlyImport(lp: Linkplane, csvPath: string, opts: ImportOptions): Promise<Job> {
  const accepted = await uploadExport(lp, csvPath, opts);
  return lp.jobs.wait(accepted.job_id, { intervalMs: opts.pollMs, onProgress: opts.onProgress });
}

async function uploadExport(lp: Linkplane, csvPath: string, opts: ImportOptions): Promise<JobAccepted> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await lp.jobs.upload(pimItems(createReadStream(csvPath), opts), {
        format: 'ndjson',
        operation: 'upsert',
        idempotencyKey: `catalog-${opts.night}`,
      });
    } catch (err) {
      const again = err instanceof NetworkError || err instanceof ServerError || (err instanceof ConflictError && err.code === 'idempotency_in_flight');
      if (!again || attempt >= attempts) throw err;
      await sleep(500 * 2 ** (attempt - 1));
    }
  }
}
