/**
 * Bulk jobs through the SDK against a live control plane: uploads streamed from a generator
 * (pulled only as the network takes it), a File, an array of objects; wait with progress;
 * errors paged; results streamed; a replayed upload (same key) is the same job.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job, Linkplane, UploadProgress } from '@linkplane/sdk';
import { CHUNK_BYTES } from '../src/upload.js';
import { startLiveStack, type LiveStack } from './live-stack.js';

describe('SDK bulk jobs against a live control plane', () => {
  let stack: LiveStack;
  let lp: Linkplane;

  beforeAll(async () => {
    stack = await startLiveStack('sdkjobs', { JOB_BATCH_SIZE: '500' });
    lp = stack.client({ retry: { baseDelayMs: 5 } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('streams a large CSV from a generator without reading ahead of the network, then waits with progress', async () => {
    const rows = 10_000;
    let produced = 0;
    let sent = 0;
    let maxLead = 0;
    const encoder = new TextEncoder();
    async function* csv() {
      const header = 'domain,path,destination_url,external_id,tags\n';
      produced += header.length;
      yield header;
      for (let i = 0; i < rows; i++) {
        // a row that fails validation every 1000 rows
        const line = `${stack.domain},gen-${i},${i % 1000 === 999 ? 'not a url' : `https://shop.example.com/p/${i}`},gen-${i},catalog\n`;
        produced += encoder.encode(line).byteLength;
        maxLead = Math.max(maxLead, produced - sent);
        yield line;
      }
    }
    const progress: UploadProgress[] = [];
    const accepted = await lp.jobs.upload(csv(), {
      format: 'csv', operation: 'upsert',
      onProgress: (p) => {
        sent = p.bytes;
        progress.push(p);
      },
    });
    expect(accepted.job).toMatchObject({ format: 'csv', operation: 'upsert', counts: { total: rows } });
    expect(accepted.job.upload_bytes).toBe(produced);
    expect(progress.at(-1)).toEqual({ bytes: produced, totalBytes: null });
    // the generator ran at most about one 64 KB chunk ahead of what fetch had taken (the body is ~0.9 MB)
    expect(produced).toBeGreaterThan(800_000);
    expect(maxLead).toBeLessThan(3 * CHUNK_BYTES);

    const seen: Job[] = [];
    const job = await lp.jobs.wait(accepted.job_id, { intervalMs: 100, onProgress: (j) => seen.push(j) });
    expect(job).toMatchObject({ status: 'partially_succeeded', counts: { total: rows, succeeded: rows - 10, failed: 10, pending: 0 } });
    expect(seen.at(-1)).toEqual(job);
    const errors = await lp.jobs.errors(job.id, { limit: 7 }).toArray();
    expect(errors.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, k) => k * 1000 + 999));
    expect(errors[0]).toMatchObject({ external_id: 'gen-999', field: 'destination_url' });
    let lines = 0;
    let failed = 0;
    for await (const r of lp.jobs.results(job.id)) {
      expect(r.index).toBe(lines++);
      if (r.status === 'failed') failed++;
    }
    expect([lines, failed]).toEqual([rows, 10]);
  });

  it('a File (name says CSV), a Node Readable, an array of objects (NDJSON)', async () => {
    const file = new File([`domain,path,destination_url\n${stack.domain},file-1,https://example.com/f1\n${stack.domain},file-2,https://example.com/f2\n`], 'links.csv');
    const a = await lp.jobs.upload(file, { operation: 'create' });
    expect(a.job).toMatchObject({ format: 'csv', operation: 'create', counts: { total: 2 } });

    const readable = Readable.from([`{"domain":"${stack.domain}","path":"nd-1","destination_url":"https://example.com/n1"}\n`, Buffer.from(`{"domain":"${stack.domain}","path":"nd-2","destination_url":"https://example.com/n2"}\n`)]);
    const b = await lp.jobs.upload(readable, { format: 'ndjson' });
    expect(b.job).toMatchObject({ format: 'ndjson', operation: 'upsert', counts: { total: 2 } });

    const items = [1, 2, 3].map((i) => ({ domain: stack.domain, path: `obj-${i}`, destination_url: `https://example.com/o${i}` }));
    const c = await lp.jobs.upload(items);
    expect(c.job).toMatchObject({ format: 'ndjson', counts: { total: 3 } });

    for (const id of [a.job_id, b.job_id, c.job_id]) expect((await lp.jobs.wait(id, { intervalMs: 50 })).status).toBe('succeeded');
    expect((await lp.links.list({ q: 'obj-' }).toArray()).map((l) => l.path).sort()).toEqual(['obj-1', 'obj-2', 'obj-3']);
  });

  it('the same upload with the same Idempotency-Key is the same job; a generator of objects is NDJSON', async () => {
    function* gen() {
      for (let i = 0; i < 3; i++) yield { domain: stack.domain, path: `same-${i}`, destination_url: 'https://example.com/s' };
    }
    const first = await lp.jobs.upload(gen(), { idempotencyKey: 'nightly-2026-12-03' });
    const again = await lp.jobs.upload(gen(), { idempotencyKey: 'nightly-2026-12-03' });
    expect(first.job.format).toBe('ndjson');
    expect(again.job_id).toBe(first.job_id);
    const r = await lp.jobs.list({ limit: 200 }).toArray();
    expect(r.filter((j) => j.id === first.job_id)).toHaveLength(1);
  });

  it('a source whose format cannot be told is refused before anything is sent', async () => {
    await expect(lp.jobs.upload(['a,b\n'])).rejects.toThrow(/say the format/);
  });
});
