export { changedFields, recordAudit, REDACTED, scrubSecrets, type Actor } from './record.js';
export { listAudit, toAuditResource, type AuditFilter, type AuditRow } from './audit-query.js';
export { dropExpiredAuditPartitions, ensureAuditPartitions } from './audit-partitions.js';
