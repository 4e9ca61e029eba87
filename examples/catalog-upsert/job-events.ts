/**
 * The receiver of `job.succeeded` / `job.failed` webhooks, built on the SDK's
 * `nodeWebhookHandler`: the signature is checked on the raw body (either header family, any secret
 * of a rotation; 400/401 otherwise), a duplicate delivery (same `Event-Id`) is skipped, and the
 * finished job goes to `onJob` — your data-warehouse sync, an alert. If `onJob` throws, the
 * delivery is answered 500 and linkplane retries it; keep it well under the 10 s delivery timeout
 * and queue anything slower.
 */
import { nodeWebhookHandler, type Job, type Linkplane, type WebhookEvent } from '@linkplane/sdk';

export interface JobEvent {
  id: string;
  type: 'job.succeeded' | 'job.failed';
  job: Job;
}

export function jobEventsHandler(opts: { secrets: string[]; onJob: (event: JobEvent) => Promise<void> | void; seen?: Set<string> }): ReturnType<typeof nodeWebhookHandler> {
  const seen = opts.seen ?? new Set<string>();
  return nodeWebhookHandler(opts.secrets, async (event: WebhookEvent) => {
    if ((event.type !== 'job.succeeded' && event.type !== 'job.failed') || seen.has(event.id)) return;
    await opts.onJob({ id: event.id, type: event.type, job: event.data as Job });
    seen.add(event.id);
  });
}

/** What a finished job did, for a report or an alert: counts and the first failed items. */
export async function jobReport(lp: Linkplane, job: Job, maxErrors = 100): Promise<{ status: Job['status']; counts: Job['counts']; failed: { index: number; external_id: string | null; code: string; field: string | null }[] }> {
  const failed = job.counts.failed === 0 ? [] : await lp.jobs.errors(job.id).toArray(maxErrors);
  return {
    status: job.status,
    counts: job.counts,
    failed: failed.map((e) => ({ index: e.index, external_id: e.external_id ?? null, code: e.code, field: e.field ?? null })),
  };
}
