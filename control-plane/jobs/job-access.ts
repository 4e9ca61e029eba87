/**
 * Who may see and cancel a job: keys that may touch every domain the job may touch. A job's items
 * are checked with its creating key's domain limit, so that limit is the job's reach: an
 * unrestricted key's job is for unrestricted keys only; a job of a key limited to A and B is for
 * keys whose domains include A and B. To every other key the job does not exist (404).
 */
import type { Queryable } from '../db/pool.js';
import { errors } from '../errors.js';
import type { AuthContext } from '../keys/key-store.js';
import { getJob, type JobRow } from './job-store.js';

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
