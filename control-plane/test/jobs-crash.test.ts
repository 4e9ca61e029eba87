/**
 * The control plane (the real process) is SIGKILLed while its workers are in the middle of a
 * job; after a restart the job completes exactly once: every item counted once, one link per
 * item, every index once in the results, every link in the KV bucket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startProcess, waitFor, waitForHttp, type RunningProcess } from '../../shared/testing/index.js';
import { ADMIN_SECRET, createDomain, createHarness, type Harness } from './harness.js';
import { count } from './jobs-helpers.js';

const N = 30_000;

describe('bulk job across a control-plane crash', () => {
  let h: Harness;
  let domain: string;
  const procs: RunningProcess[] = [];

  beforeAll(async () => {
    h = await createHarness('jobs_crash');
    domain = await createDomain(h, 'go.crash.example.com');
  });
  afterAll(async () => {
    for (const p of procs) await p.stop();
    await h.close();
  });

  it('SIGKILL mid-job, restart: the job completes with exact counts and no duplicates', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: h.db.url, NATS_PREFIX: h.prefix, PORT: String(port), LOG_LEVEL: 'warn',
      JOB_BATCH_SIZE: '500', JOB_WORKERS: '2', JOB_POLL_MS: '50',
    };
    const api = `http://127.0.0.1:${port}`;
    const first = startProcess('control-plane/main.js', env);
    procs.push(first);
    await waitForHttp(`${api}/readyz`);

    const csv = ['domain,path,destination_url,external_id'];
    for (let i = 0; i < N; i++) csv.push(`${domain},c-${i},https://example.org/crash/${i},ext-${i}`);
    const res = await fetch(`${api}/v1/links/bulk?operation=upsert`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_SECRET}`, 'content-type': 'text/csv' },
      body: csv.join('\n'),
    });
    expect(res.status).toBe(202);
    const jobId = ((await res.json()) as { job_id: string }).job_id;
    const batches = Math.ceil(N / 500);

    await waitFor('a few batches done', async () => (await count(h, 'SELECT batches_done AS n FROM jobs WHERE id = $1', [jobId])) >= 3, 60_000, 10);
    first.signal('SIGKILL');
    await first.exited;
    const mid = (await h.pool.query('SELECT status, succeeded, batches_done FROM jobs WHERE id = $1', [jobId])).rows[0];
    expect(mid.status).toBe('running');
    expect(mid.batches_done).toBeLessThan(batches); // killed in the middle
    expect(mid.succeeded).toBe(mid.batches_done * 500); // counters match committed batches exactly

    const second = startProcess('control-plane/main.js', env);
    procs.push(second);
    await waitForHttp(`${api}/readyz`);
    await waitFor('job finished', async () => (await count(h, 'SELECT count(*) AS n FROM jobs WHERE id = $1 AND finished_at IS NOT NULL', [jobId])) === 1, 120_000, 100);

    const job = (await (await fetch(`${api}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } })).json()) as Record<string, unknown>;
    expect(job).toMatchObject({ status: 'succeeded', counts: { total: N, succeeded: N, failed: 0, pending: 0 } });
    expect(await count(h, `SELECT count(*) AS n FROM job_batches WHERE job_seq = (SELECT seq FROM jobs WHERE id = $1) AND state = 'done'`, [jobId])).toBe(batches);
    expect(await count(h, 'SELECT count(*) AS n FROM links')).toBe(N);
    expect(await count(h, 'SELECT count(DISTINCT external_id) AS n FROM links')).toBe(N);
    expect(await count(h, 'SELECT count(*) AS n FROM links WHERE version <> 1')).toBe(0);
    expect(await count(h, 'SELECT count(*) AS n FROM job_errors')).toBe(0);

    const text = await (await fetch(`${api}/v1/jobs/${jobId}/results`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } })).text();
    const lines = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { index: number; status: string; link_id: string });
    expect(lines).toHaveLength(N);
    expect(lines.every((l, i) => l.index === i && l.status === 'created')).toBe(true);
    expect(new Set(lines.map((l) => l.link_id)).size).toBe(N);

    // exactly one job event, and every link reaches the bucket through the restarted relay
    expect(await count(h, `SELECT count(*) AS n FROM events WHERE type = 'job.succeeded'`)).toBe(1);
    // one link.created event and one link.create audit row per link: the batch the kill cut short left none, its re-run one each
    expect(await count(h, `SELECT count(*) AS n FROM events WHERE type = 'link.created'`)).toBe(N);
    expect(await count(h, `SELECT count(DISTINCT data->>'id') AS n FROM events WHERE type = 'link.created'`)).toBe(N);
    expect(await count(h, `SELECT count(*) AS n FROM audit_log WHERE action = 'link.create'`)).toBe(N);
    expect(await count(h, `SELECT count(DISTINCT resource_id) AS n FROM audit_log WHERE action = 'link.create'`)).toBe(N);
    await waitFor('outbox drained', async () => (await count(h, 'SELECT count(*) AS n FROM link_outbox WHERE published_at IS NULL')) === 0, 60_000, 200);
    const { kv } = await h.nats();
    let keys = 0;
    for await (const k of await kv.keys('l.>')) if (k) keys++;
    expect(keys).toBe(N);

    expect((await second.stop()).code).toBe(0);
  }, 300_000);
});
