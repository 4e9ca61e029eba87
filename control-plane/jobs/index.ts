/** Bulk jobs: staging uploads, the job store, batch workers and completion callbacks. */
export { BULK_OPERATIONS, BulkItem, fieldFromPointer, type BulkOperation } from './bulk-item.js';
export { CSV_COLUMNS } from './csv-items.js';
export { getVisibleJob, jobVisibleTo, listVisibleJobs } from './job-access.js';
export {
  cancelJob,
  finishIfComplete,
  getCallbackState,
  getCallbackStates,
  getJob,
  insertJob,
  JOB_STATUSES,
  toJobResource,
  type JobResource,
  type JobRow,
  type JobStatus,
} from './job-store.js';
export { JobWorkers, type JobWorkersOptions } from './job-workers.js';
export { runNextBatch, type BatchReport } from './process-batch.js';
export { BULK_FORMATS, stageUpload, type BulkFormat, type StagedUpload } from './stage-upload.js';
