/** `linkplane jobs import|watch|get|errors`: bulk uploads with live progress, and what failed. */
import { openAsBlob } from 'node:fs';
import { extname } from 'node:path';
import type { Job, JobError, JobOperation, UploadFormat } from '@linkplane/sdk';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { jobProgress } from '../progress.js';
import { int, type Register } from './types.js';

const FORMATS: Record<string, UploadFormat> = { '.csv': 'csv', '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.json': 'json' };

function summary(ctx: Context, job: Job): number {
  const c = job.counts;
  const secs = job.timings.total_ms === null ? '' : ` in ${(job.timings.total_ms / 1000).toFixed(1)} s`;
  ctx.out.result(job, () => {
    ctx.out.line(`job ${job.id} ${job.status}: ${c.succeeded} of ${c.total} items succeeded, ${c.failed} failed${secs}`);
    if (c.failed > 0) ctx.out.line(`failed items: linkplane jobs errors ${job.id} --csv`);
  });
  return job.status === 'succeeded' ? EXIT.ok : EXIT.jobFailed;
}

async function watch(ctx: Context, id: string, intervalMs: number): Promise<number> {
  const progress = jobProgress(ctx.tty);
  try {
    const job = await ctx.client().jobs.wait(id, { intervalMs, onProgress: (j) => progress.job(j) });
    progress.stop();
    return summary(ctx, job);
  } finally {
    progress.stop();
  }
}

/** RFC 4180 cell. */
function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const registerJobs: Register = (program, action) => {
  const jobs = program.command('jobs').description('bulk imports: upload a file, watch it, read what failed');

  jobs
    .command('import')
    .argument('<file>', 'a .csv (header row), .ndjson/.jsonl or .json file')
    .description('upload a file into a bulk job (streamed), then follow it to the end')
    .option('--operation <op>', 'create, upsert, update, disable or delete', 'upsert')
    .option('--format <format>', 'csv, ndjson or json (default: from the file name)')
    .option('--idempotency-key <key>', 'the same key returns the same job (safe to re-run)')
    .option('--callback-url <url>', 'POSTed, signed, when the job finishes')
    .option('--no-wait', 'print the job as accepted and exit')
    .option('--interval <ms>', 'poll interval while waiting', int, 500)
    .action(action(async (ctx, file: string, o: { operation: string; format?: string; idempotencyKey?: string; callbackUrl?: string; wait: boolean; interval: number }) => {
      const format = (o.format ?? FORMATS[extname(file).toLowerCase()]) as UploadFormat | undefined;
      if (!format) throw new Error(`cannot tell the format of ${file}: give --format csv|ndjson|json`);
      const blob = await openAsBlob(file); // read as it is sent, never whole in memory
      const progress = jobProgress(ctx.tty);
      try {
        const accepted = await ctx.client().jobs.upload(blob, {
          format,
          operation: o.operation as JobOperation,
          idempotencyKey: o.idempotencyKey,
          callbackUrl: o.callbackUrl,
          onProgress: (p) => progress.upload(p),
        });
        if (!o.wait) {
          progress.stop();
          ctx.out.result(accepted, () => ctx.out.line(`job ${accepted.job_id} ${accepted.job.status}: ${accepted.job.counts.total} items (linkplane jobs watch ${accepted.job_id})`));
          return EXIT.ok;
        }
        progress.job(accepted.job);
        const job = await ctx.client().jobs.wait(accepted.job_id, { intervalMs: o.interval, onProgress: (j) => progress.job(j) });
        progress.stop();
        return summary(ctx, job);
      } finally {
        progress.stop();
      }
    }));

  jobs
    .command('watch')
    .argument('<id>', 'the job id (job_…)')
    .description('follow a job with live progress until it finishes')
    .option('--interval <ms>', 'poll interval', int, 500)
    .action(action(async (ctx, id: string, o: { interval: number }) => watch(ctx, id, o.interval)));

  jobs
    .command('get')
    .argument('<id>', 'the job id')
    .description("a job's status and counts")
    .action(action(async (ctx, id: string) => {
      const job = await ctx.client().jobs.get(id);
      ctx.out.result(job, () => {
        ctx.out.line(`job ${job.id} ${job.status} (${job.operation}, ${job.format})`);
        ctx.out.line(`total ${job.counts.total}  succeeded ${job.counts.succeeded}  failed ${job.counts.failed}  pending ${job.counts.pending}`);
      });
    }));

  jobs
    .command('errors')
    .argument('<id>', 'the job id')
    .description("a job's failed items, in item order")
    .option('--csv', 'as CSV (index,external_id,code,field,message)')
    .action(action(async (ctx, id: string, o: { csv?: boolean }) => {
      const rows: JobError[] = await ctx.client().jobs.errors(id, { limit: 200 }).toArray();
      if (o.csv) {
        ctx.out.line('index,external_id,code,field,message');
        for (const r of rows) ctx.out.line([r.index, r.external_id, r.code, r.field, r.message].map(csvCell).join(','));
        return;
      }
      ctx.out.result(rows, () => ctx.out.table(rows, ['index', 'external_id', 'code', 'field', 'message']));
    }));
};
