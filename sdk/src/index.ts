/**
 * @linkplane/sdk — the linkplane API from TypeScript/JavaScript (Node ≥ 20, Deno, browsers).
 * Standard fetch and WebCrypto only; no runtime dependencies.
 */
export { Linkplane, FINAL_JOB_STATUSES, type UploadOptions, type WaitOptions, type JobResultLine } from './client.js';
export { newIdempotencyKey, type ApiResponse, type CallOptions, type ClientOptions, type Method, type RequestSpec, type RetryInfo } from './transport.js';
export type { RetryOptions } from './retry.js';
export { Paged, type Page } from './paging.js';
export type { UploadFormat, UploadProgress, UploadSource } from './upload.js';
export {
  LinkplaneError, ValidationError, AuthenticationError, PermissionError, NotFoundError, ConflictError, RateLimitError, ServerError, NetworkError,
  isLinkplaneError, type ApiErrorCode,
} from './errors.js';
export {
  verifyWebhook, WebhookVerificationError, DEFAULT_TOLERANCE_SEC,
  type WebhookEvent, type WebhookHeaders, type WebhookSecret, type WebhookVerificationCode, type VerifyWebhookOptions,
} from './webhooks.js';
export { nodeWebhookHandler, expressWebhook, fastifyWebhook, type WebhookHandler, type WebhookAdapterOptions } from './webhook-adapters.js';
export type * from './types.js';
