/**
 * Who may see and cancel a job: keys that may touch every domain the job may touch. A job's items
 * are checked with its creating key's domain limit, so that limit is the job's reach: an
 * unrestricted key's job is for unrestricted keys only; a job of a key limited to A and B is for
 * keys whose domains include A and B. To every other key the job does not exist (404).
 */
import type { Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import type { AuthContext } from '../keys/key-store.js';
import { getJob, JOB_COLUMNS, type JobRow, type JobStatus } from './job-store.js';
import type { BulkOperation } from './bulk-item.js';

export function jobVisibleTo(auth: AuthContext, job: Pick<JobRow, 'workspace_id' | 'key_domains'>): boolean {
  if (job.workspace_id !== auth.workspaceId) return false;
  if (auth.domains === null) return true;
  const own = auth.domains;
  return job.key_domains !== null && job.key_domains.every((d) => own.includes(d));
}

/** The job, if `auth` may see it; else 404 job_not_found, as for a job that does not exist. */
export async function getVisibleJob(db: Queryable, auth: AuthContext, id: string): Promise<JobRow> {
  const job = await getJob(db, auth.workspaceId, id);
  if (!jobVisibleTo(auth, job)) throw errors.job_not_found({ id });
  return job;
}

export interface JobListFilter {
  status?: JobStatus;
  operation?: BulkOperation;
  /** Keyset: jobs with an id below this one (newest first). */
  after: string | null;
  limit: number;
}

/** The jobs `auth` may see (the same rule as jobVisibleTo, in SQL), newest first. */
export async function listVisibleJobs(db: Queryable, auth: AuthContext, f: JobListFilter): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs
      WHERE workspace_id = $1
        AND ($2::text[] IS NULL OR (key_domains IS NOT NULL AND key_domains <@ $2::text[]))
        AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR operation = $4)
        AND ($5::text IS NULL OR id < $5)
      ORDER BY id DESC LIMIT $6`,
    [auth.workspaceId, auth.domains, f.status ?? null, f.operation ?? null, f.after, f.limit],
  );
  return rows;
}
