/**
 * One batch, exactly once: claim it (FOR UPDATE SKIP LOCKED), check its items, lock the links
 * they name, plan, hand every link's final state to the link writer (links/link-writer.ts: one
 * set-based upsert, the outbox rows from the rows it returns), write the item errors, the results
 * and the job's counters — and commit all of it together. A crash rolls the whole
 * batch back and another worker claims it again.
 *
 * If the one-statement write fails on a data or constraint error (a path taken concurrently, a
 * value Postgres refuses), the batch runs again item by item, each in a savepoint, so the bad
 * item gets the error and the others still commit.
 */
import { randomBytes } from 'node:crypto';
import { normalizeHostname, randomBase62, type Logger } from '../../shared/index.js';
import type { Pool, PoolClient } from '../db/pool.js';
import { canUseDomain } from '../domains/domain-service.js';
import { DOMAIN_COLUMNS, type DomainRow } from '../domains/domain-row.js';
import { describeInputProblem, escapeUnstorable, findInputProblem } from '../http/input-guard.js';
import { newId } from '../ids.js';
import { shortUrl, type LinkRow } from '../links/link-row.js';
import type { LinkFields } from '../links/link-schema.js';
import { normalizeFields } from '../links/link-service.js';
import { writeLinksInBulk } from '../links/link-bulk-writer.js';
import { validPath } from '../links/validate-link.js';
import { checkItemShape, itemError, itemErrorFrom, type ItemError } from './bulk-item.js';
import { finishIfComplete, JOB_COLUMNS, jobAuth, type JobRow } from './job-store.js';
import { planBatch, type CheckedItem, type ItemOutcome } from './plan-batch.js';

export interface BatchContext {
  pool: Pool;
  log: Logger;
  /** Scheme of short URLs in results (SHORT_URL_SCHEME). */
  scheme: string;
  /** Failed attempts (errors, not crashes) after which a batch's items are failed. */
  maxAttempts: number;
}

interface Claim {
  job_seq: string;
  batch_no: number;
  first_idx: number;
  end_idx: number;
  attempts: number;
}

interface StagedItem {
  idx: number;
  item: string;
}

/** Milliseconds a batch spent in each step (for metrics and profiling). */
export type BatchPhases = Partial<Record<'load' | 'check' | 'lock' | 'plan' | 'write' | 'complete' | 'commit', number>>;

class Laps {
  private t = performance.now();
  readonly phases: BatchPhases = {};
  lap(name: keyof BatchPhases): void {
    const now = performance.now();
    this.phases[name] = (this.phases[name] ?? 0) + (now - this.t);
    this.t = now;
  }
}

export interface BatchReport {
  phases?: BatchPhases;
  jobId: string;
  batchNo: number;
  succeeded: number;
  failed: number;
  mode: 'fast' | 'item_by_item' | 'skipped' | 'given_up';
  finished: JobRow | null;
}

/**
 * Postgres errors that belong to an item rather than to the batch: a bad value (22), a constraint
 * (23), a value past a program limit (54: e.g. JSON nested past the stack depth).
 */
function isItemLevel(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code.startsWith('54'));
}

function dbItemError(err: unknown): ItemError {
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e.code === '23505' && e.constraint === 'links_external_id_live') return itemError('external_id_conflict', 'external_id', 'a live link already has this external_id');
  if (e.code === '23505') return itemError('path_conflict', 'path', 'the path is already used on this domain');
  return itemError('validation_failed', null, `a value was refused: ${e.message ?? 'invalid'}`);
}

/** Item text → checked item, or its error. Pure. */
export function checkItem(staged: StagedItem, op: JobRow['operation'], hosts: Map<string, string> = new Map()): CheckedItem | ItemError {
  let value: unknown;
  try {
    value = JSON.parse(staged.item);
  } catch {
    return itemError('invalid_json', null, 'the item is not valid JSON');
  }
  // NUL, lone surrogates, 1e400 and deep nesting: what the API's input guard refuses, per item
  const problem = findInputProblem(value);
  if (problem) {
    const { field, message } = describeInputProblem(problem);
    return itemError('validation_failed', field || null, message);
  }
  const shape = checkItemShape(value, op);
  if (!shape.ok) return shape.error;
  const item = shape.item;
  try {
    const identityOnly = op === 'disable' || op === 'delete';
    const fields: Partial<LinkFields> = identityOnly ? {} : normalizeFields(item as Partial<LinkFields>);
    const path = item.path !== undefined ? validPath(item.path) : null;
    let domain: string | null = null;
    if (item.domain !== undefined) {
      domain = hosts.get(item.domain) ?? null;
      if (domain === null) {
        domain = normalizeHostname(item.domain) ?? item.domain.toLowerCase();
        hosts.set(item.domain, domain);
      }
    }
    delete fields.domain;
    delete fields.path;
    return { idx: staged.idx, fields, domain, path, externalId: item.external_id ?? null };
  } catch (err) {
    const e = itemErrorFrom(err);
    if (e) return e;
    throw err;
  }
}

const isError = (x: CheckedItem | ItemError): x is ItemError => 'code' in x;


interface Applied {
  outcomes: ItemOutcome[];
  written: number;
}

/** Checks, locks, plans and writes `items` (links + outbox) in `tx`. Throws on database errors. */
async function applyItems(tx: PoolClient, job: JobRow, items: StagedItem[], laps: Laps, scheme: string): Promise<Applied> {
  const outcomes: ItemOutcome[] = [];
  const checked: CheckedItem[] = [];
  const hosts = new Map<string, string>();
  for (const s of items) {
    const c = checkItem(s, job.operation, hosts);
    if (isError(c)) {
      let externalId: string | null = null;
      try {
        const v = JSON.parse(s.item) as { external_id?: unknown };
        if (typeof v.external_id === 'string') externalId = v.external_id;
      } catch {
        // keep null
      }
      outcomes.push({ idx: s.idx, status: 'failed', error: c, externalId });
    } else checked.push(c);
  }
  laps.lap('check');
  if (checked.length === 0) return { outcomes, written: 0 };

  const auth = jobAuth(job);
  const externalIds = [...new Set(checked.flatMap((c) => (c.externalId !== null ? [c.externalId] : [])))];
  const pairs = checked.filter((c) => c.domain !== null && c.path !== null);
  // Two lookups, each a nested loop over the batch's identities probing a unique index. An OR of
  // both in one query scans every link, and a join the planner may flatten becomes a merge join
  // over every link when the table's statistics are stale (right after a million rows arrived:
  // 4 s a batch). OFFSET 0 keeps each lateral subquery a parameterized index probe; the
  // external_id probe names no workspace_id, so no workspace index can be picked for it (migration
  // 301), and rows of other workspaces are dropped here.
  const existing = new Map<string, LinkRow>();
  if (externalIds.length > 0) {
    const r = await tx.query<LinkRow>(
      `SELECT l.* FROM unnest($1::text[]) AS e(x)
       CROSS JOIN LATERAL (SELECT * FROM links WHERE external_id = e.x AND external_id IS NOT NULL AND deleted_at IS NULL OFFSET 0) l
       ORDER BY l.id FOR UPDATE OF l`,
      [externalIds],
    );
    for (const row of r.rows) if (row.workspace_id === job.workspace_id) existing.set(row.id, row);
  }
  if (pairs.length > 0) {
    const r = await tx.query<LinkRow>(
      `SELECT l.* FROM unnest($1::text[], $2::text[]) AS t(d, p)
       CROSS JOIN LATERAL (SELECT * FROM links WHERE domain = t.d AND path = t.p AND deleted_at IS NULL OFFSET 0) l
       ORDER BY l.id FOR UPDATE OF l`,
      [pairs.map((c) => c.domain), pairs.map((c) => c.path)],
    );
    // a path on another workspace's domain is out of reach (its domain check fails too)
    for (const row of r.rows) if (row.workspace_id === job.workspace_id) existing.set(row.id, row);
  }

  const hostnames = [...new Set([...checked.flatMap((c) => (c.domain !== null ? [c.domain] : [])), ...[...existing.values()].map((r) => r.domain)])];
  const domainRows = (
    await tx.query<DomainRow>(`SELECT ${DOMAIN_COLUMNS} FROM domains WHERE hostname = ANY($1::text[]) AND deleted_at IS NULL FOR SHARE`, [hostnames])
  ).rows;
  const byHost = new Map(domainRows.map((d) => [d.hostname, d]));
  const domains = new Map<string, DomainRow | ItemError>();
  for (const h of hostnames) {
    const d = byHost.get(h);
    if (!d) domains.set(h, itemError('domain_not_found', 'domain', `domain "${h}" is not registered; create it with POST /v1/domains`));
    else if (d.workspace_id !== job.workspace_id || !canUseDomain(auth, h)) domains.set(h, itemError('domain_not_allowed', 'domain', `the API key may not use domain "${h}"`));
    else domains.set(h, d);
  }
  laps.lap('lock');
  // a link found by external_id on a domain the key may not use is out of reach
  const reachable = [...existing.values()].filter((r) => canUseDomain(auth, r.domain));

  const plan = planBatch({
    op: job.operation,
    items: checked,
    existing: reachable,
    domains,
    newId: () => newId('ln'),
    randomPath: (n) => randomBase62(n, (k) => randomBytes(k)),
  });
  outcomes.push(...plan.outcomes);
  laps.lap('plan');
  if (plan.writes.length === 0) return { outcomes, written: 0 };

  // one set-based write through the link writer (links/link-bulk-writer.ts): rows, then the outbox
  // entries compiled from the rows it returns (their real versions), the link.* events and the
  // audit rows, a statement each for the whole batch. A link that breaks the policy is not
  // written: every item that touched it fails with the violation.
  const written = await writeLinksInBulk(tx, { workspaceId: job.workspace_id, keyId: job.api_key_id, jobId: job.id, scheme }, plan.writes, byHost);
  laps.lap('write');
  const failed = (o: ItemOutcome): ItemOutcome => {
    const err = o.status === 'failed' ? undefined : written.rejected.get(o.linkId);
    return err ? { idx: o.idx, status: 'failed', error: itemErrorFrom(err)!, externalId: o.externalId } : o;
  };
  return { outcomes: written.rejected.size > 0 ? outcomes.map(failed) : outcomes, written: written.rows.size };
}

/** Item by item, each in a savepoint: the fallback that pins a database error on its item. */
async function applyOneByOne(tx: PoolClient, job: JobRow, items: StagedItem[], laps: Laps, scheme: string): Promise<Applied> {
  const outcomes: ItemOutcome[] = [];
  let written = 0;
  for (const item of items) {
    for (let attempt = 1; ; attempt++) {
      await tx.query('SAVEPOINT bulk_item');
      try {
        const r = await applyItems(tx, job, [item], laps, scheme);
        await tx.query('RELEASE SAVEPOINT bulk_item');
        outcomes.push(...r.outcomes);
        written += r.written;
        break;
      } catch (err) {
        await tx.query('ROLLBACK TO SAVEPOINT bulk_item');
        if (!isItemLevel(err)) throw err;
        // a path taken by a concurrent commit: planning again sees it
        if ((err as { code?: string }).code === '23505' && attempt < 3) continue;
        outcomes.push({ idx: item.idx, status: 'failed', error: dbItemError(err), externalId: null });
        break;
      }
    }
  }
  return { outcomes, written };
}

function resultLine(o: ItemOutcome, scheme: string): string {
  if (o.status === 'failed') {
    return JSON.stringify({ index: o.idx, status: 'failed', external_id: o.externalId, error: o.error });
  }
  return JSON.stringify({
    index: o.idx,
    status: o.status,
    link_id: o.linkId,
    short_url: shortUrl(scheme, o.domain, o.path),
    external_id: o.externalId,
  });
}

/** Writes errors, results, the batch's state and the job's counters; finishes the job if this was its last batch. */
async function completeBatch(tx: PoolClient, claim: Claim, outcomes: ItemOutcome[], scheme: string): Promise<{ succeeded: number; failed: number; job: JobRow }> {
  outcomes.sort((a, b) => a.idx - b.idx);
  const failedOnes = outcomes.filter((o): o is Extract<ItemOutcome, { status: 'failed' }> => o.status === 'failed');
  if (failedOnes.length > 0) {
    await tx.query(
      `INSERT INTO job_errors (job_seq, idx, external_id, code, field, message, details)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[]) ON CONFLICT DO NOTHING`,
      // an error may quote the item (a field name, an external_id): text Postgres can store
      [claim.job_seq, failedOnes.map((o) => o.idx), failedOnes.map((o) => (o.externalId === null ? null : escapeUnstorable(o.externalId))),
        failedOnes.map((o) => o.error.code), failedOnes.map((o) => (o.error.field === null ? null : escapeUnstorable(o.error.field))),
        failedOnes.map((o) => escapeUnstorable(o.error.message)), failedOnes.map((o) => (o.error.details ? JSON.stringify(o.error.details) : null))],
    );
  }
  const succeeded = outcomes.length - failedOnes.length;
  const results = outcomes.map((o) => resultLine(o, scheme)).join('\n') + (outcomes.length > 0 ? '\n' : '');
  await tx.query(
    `UPDATE job_batches SET state = 'done', succeeded = $3, failed = $4, results = $5, done_at = clock_timestamp() WHERE job_seq = $1 AND batch_no = $2`,
    [claim.job_seq, claim.batch_no, succeeded, failedOnes.length, results],
  );
  const { rows } = await tx.query<JobRow>(
    `UPDATE jobs SET succeeded = succeeded + $2, failed = failed + $3, batches_done = batches_done + 1,
       status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, started_at = coalesce(started_at, clock_timestamp())
     WHERE seq = $1 RETURNING ${JOB_COLUMNS}`,
    [claim.job_seq, succeeded, failedOnes.length],
  );
  return { succeeded, failed: failedOnes.length, job: await finishIfComplete(tx, rows[0]!) };
}

async function loadItems(tx: PoolClient, claim: Claim): Promise<StagedItem[]> {
  const { rows } = await tx.query<StagedItem>(
    'SELECT idx, item FROM job_items WHERE job_seq = $1 AND idx >= $2 AND idx < $3 ORDER BY idx',
    [claim.job_seq, claim.first_idx, claim.end_idx],
  );
  return rows;
}

/** The next due pending batch (oldest job first), or exactly `only` when given; locked, skipping locked ones. */
async function claimNext(tx: PoolClient, only: { job_seq: string; batch_no: number } | null): Promise<Claim | null> {
  const { rows } = await tx.query<Claim>(
    `SELECT job_seq::text AS job_seq, batch_no, first_idx, end_idx, attempts FROM job_batches
     WHERE state = 'pending' AND (not_before IS NULL OR not_before <= now())
       AND ($1::bigint IS NULL OR (job_seq = $1 AND batch_no = $2))
     ORDER BY job_seq, batch_no LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [only?.job_seq ?? null, only?.batch_no ?? null],
  );
  return rows[0] ?? null;
}

type Mode = 'fast' | 'item_by_item' | 'given_up';

/** Runs one attempt of the batch in `mode`; throws on a database error (the caller rolls back). */
async function attempt(tx: PoolClient, ctx: BatchContext, claim: Claim, job: JobRow, mode: Mode, laps: Laps): Promise<BatchReport> {
  const items = await loadItems(tx, claim);
  laps.lap('load');
  let outcomes: ItemOutcome[];
  if (mode === 'given_up') {
    const e = itemError('internal_error', null, 'the item could not be processed after several attempts');
    outcomes = items.map((s) => ({ idx: s.idx, status: 'failed', error: e, externalId: null }));
  } else if (mode === 'fast') {
    outcomes = (await applyItems(tx, job, items, laps, ctx.scheme)).outcomes;
  } else {
    outcomes = (await applyOneByOne(tx, job, items, laps, ctx.scheme)).outcomes;
  }
  const done = await completeBatch(tx, claim, outcomes, ctx.scheme);
  laps.lap('complete');
  return {
    phases: laps.phases,
    jobId: job.id,
    batchNo: claim.batch_no,
    succeeded: done.succeeded,
    failed: done.failed,
    mode,
    finished: done.job.finished_at ? done.job : null,
  };
}

/**
 * Claims and runs the next pending batch of any job. Returns null when there is none.
 * A failing batch is retried with backoff; after `maxAttempts` failures its items fail.
 */
export async function runNextBatch(ctx: BatchContext): Promise<BatchReport | null> {
  let mode: Mode = 'fast';
  let only: Claim | null = null;
  for (;;) {
    const client = await ctx.pool.connect();
    let claim: Claim | null = null;
    try {
      await client.query('BEGIN');
      claim = await claimNext(client, only);
      if (!claim) {
        await client.query('COMMIT');
        client.release();
        return null;
      }
      const job = (await client.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE seq = $1`, [claim.job_seq])).rows[0]!;
      if (job.cancel_requested_at || job.finished_at) {
        await client.query(`UPDATE job_batches SET state = 'skipped' WHERE job_seq = $1 AND batch_no = $2`, [claim.job_seq, claim.batch_no]);
        const { rows } = await client.query<JobRow>(
          `UPDATE jobs SET batches_skipped = batches_skipped + 1 WHERE seq = $1 RETURNING ${JOB_COLUMNS}`,
          [claim.job_seq],
        );
        const finished = await finishIfComplete(client, rows[0]!);
        await client.query('COMMIT');
        client.release();
        return { jobId: job.id, batchNo: claim.batch_no, succeeded: 0, failed: 0, mode: 'skipped', finished: finished.finished_at ? finished : null };
      }
      if (job.status === 'queued') {
        // visible progress while the first batch runs (outside this transaction: no lock held)
        void ctx.pool.query(`UPDATE jobs SET status = 'running', started_at = coalesce(started_at, clock_timestamp()) WHERE seq = $1 AND status = 'queued'`, [job.seq])
          .catch((err: unknown) => ctx.log.warn({ err }, 'could not mark job running'));
      }
      if (claim.attempts >= ctx.maxAttempts) mode = 'given_up';
      const laps = new Laps();
      const report = await attempt(client, ctx, claim, job, mode, laps);
      await client.query('COMMIT');
      laps.lap('commit');
      client.release();
      return report;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      if (!claim) throw err;
      if (mode === 'fast' && isItemLevel(err)) {
        ctx.log.info({ err, job_seq: claim.job_seq, batch: claim.batch_no }, 'batch write refused; running it item by item');
        mode = 'item_by_item';
        only = claim;
        continue;
      }
      const attempts = claim.attempts + 1;
      const backoffMs = Math.min(30_000, 250 * 2 ** (attempts - 1));
      ctx.log.warn({ err, job_seq: claim.job_seq, batch: claim.batch_no, attempts }, 'batch failed; it will be retried');
      await ctx.pool
        .query(
          `UPDATE job_batches SET attempts = attempts + 1, last_error = $3, not_before = now() + make_interval(secs => $4)
           WHERE job_seq = $1 AND batch_no = $2 AND state = 'pending'`,
          [claim.job_seq, claim.batch_no, String((err as Error)?.message ?? err).slice(0, 1000), backoffMs / 1000],
        )
        .catch(() => undefined);
      throw err;
    }
  }
}

