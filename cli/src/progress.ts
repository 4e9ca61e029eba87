/**
 * Live progress on stderr (cli-progress), drawn only when stderr is a terminal: the upload in
 * bytes, then the job in items — items/s, ETA and errors so far.
 */
import cliProgress from 'cli-progress';
import type { Job, UploadProgress } from '@linkplane/sdk';

export interface JobProgress {
  upload(p: UploadProgress): void;
  job(job: Job): void;
  stop(): void;
}

const NONE: JobProgress = { upload: () => undefined, job: () => undefined, stop: () => undefined };

function mib(n: number): string {
  return `${(n / 1_048_576).toFixed(1)} MiB`;
}

export function jobProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): JobProgress {
  if (!enabled) return NONE;
  let uploadBar: cliProgress.SingleBar | null = null;
  let jobBar: cliProgress.SingleBar | null = null;
  let started: { at: number; done: number } | null = null;
  const common = { stream, hideCursor: true, barsize: 30, etaBuffer: 20, fps: 10, noTTYOutput: false };
  return {
    upload(p) {
      if (!uploadBar) {
        uploadBar = new cliProgress.SingleBar({
          ...common,
          format: 'upload     {bar} {percentage}% | {sent} of {size}',
        }, cliProgress.Presets.shades_classic);
        uploadBar.start(p.totalBytes ?? 0, 0, { sent: mib(0), size: p.totalBytes === null ? '?' : mib(p.totalBytes) });
      }
      uploadBar.update(p.bytes, { sent: mib(p.bytes) });
    },
    job(job) {
      if (uploadBar) {
        uploadBar.stop();
        uploadBar = null;
      }
      const done = job.counts.succeeded + job.counts.failed;
      const now = Date.now();
      started ??= { at: now, done };
      const secs = (now - started.at) / 1000;
      const speed = secs > 0 ? Math.round((done - started.done) / secs) : 0;
      const payload = { speed, errors: job.counts.failed, status: job.status };
      if (!jobBar) {
        jobBar = new cliProgress.SingleBar({
          ...common,
          format: 'processing {bar} {percentage}% | {value}/{total} items | {speed} items/s | ETA {eta_formatted} | errors {errors} | {status}',
        }, cliProgress.Presets.shades_classic);
        jobBar.start(job.counts.total, done, payload);
      }
      jobBar.update(done, payload);
    },
    stop() {
      uploadBar?.stop();
      jobBar?.stop();
    },
  };
}
