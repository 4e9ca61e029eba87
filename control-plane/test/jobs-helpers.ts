/** Helpers for the bulk-job tests: workers bound to a harness, waiting for a job, counting rows. */
import { createLogger } from '../../shared/index.js';
import { waitFor } from '../../shared/testing/index.js';
import { JobWorkers, type JobResource } from '../jobs/index.js';
import { secretBoxFrom } from '../secrets/index.js';
import type { Harness } from './harness.js';

export function startWorkers(h: Harness, opts: { workers?: number; batchSize?: number; schedule?: number[] } = {}): JobWorkers {
  const w = new JobWorkers({
    pool: h.pool,
    log: createLogger({ name: 'test-jobs', level: process.env.LP_TEST_LOG ?? 'silent' }),
    scheme: h.config.SHORT_URL_SCHEME,
    workers: opts.workers ?? 2,
    pollMs: 20,
    maxAttempts: 5,
    retentionDays: 7,
    secrets: secretBoxFrom(h.config),
    callbacks: { allowPrivate: true, timeoutMs: 2000, retry: { schedule: opts.schedule ?? [100, 200], jitter: 0 } },
  });
  w.start();
  return w;
}

export async function getJob(h: Harness, id: string): Promise<JobResource> {
  const r = await h.req({ method: 'GET', url: `/v1/jobs/${id}` });
  if (r.statusCode !== 200) throw new Error(`GET job ${id}: ${r.statusCode} ${r.body}`);
  return r.json<JobResource>();
}

const FINAL = new Set(['succeeded', 'partially_succeeded', 'failed', 'cancelled']);

export async function waitForJob(h: Harness, id: string, timeoutMs = 30_000): Promise<JobResource> {
  return waitFor(`job ${id} finished`, async () => {
    const j = await getJob(h, id);
    return FINAL.has(j.status) ? j : null;
  }, timeoutMs, 50);
}

export async function count(h: Harness, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await h.pool.query<{ n: string }>(sql, params);
  return Number(rows[0]!.n);
}

/** Rows of every table a rejected upload must leave untouched. */
export async function jobFootprint(h: Harness): Promise<{ jobs: number; items: number; batches: number; links: number; outbox: number }> {
  return {
    jobs: await count(h, 'SELECT count(*) AS n FROM jobs'),
    items: await count(h, 'SELECT count(*) AS n FROM job_items'),
    batches: await count(h, 'SELECT count(*) AS n FROM job_batches'),
    links: await count(h, 'SELECT count(*) AS n FROM links'),
    outbox: await count(h, 'SELECT count(*) AS n FROM link_outbox'),
  };
}

export async function results(h: Harness, id: string): Promise<Record<string, unknown>[]> {
  const r = await h.req({ method: 'GET', url: `/v1/jobs/${id}/results` });
  if (r.statusCode !== 200) throw new Error(`results ${id}: ${r.statusCode} ${r.body}`);
  return r.body
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
