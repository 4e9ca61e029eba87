/** Webhooks: the public entry of the area (routes, main.ts and other areas import from here). */
export { startWebhookWorkers, webhookSettings, type WebhookSettings, type WebhookWorkers, type WebhookWorkersDeps } from './workers.js';
export {
  createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, rotateSecret, subscribedWorkspaces, toEndpointResource, updateEndpoint,
  validWebhookUrl, assertWorkspaceWide, type EndpointResource, type EndpointRow,
} from './endpoint-store.js';
export {
  getDelivery, listDeliveries, replayDelivery, replayEndpoint, sendTestEvent,
  type DeliveryResource, type DeliveryStatus, type ReplayStatus,
} from './delivery-store.js';
export { SUBSCRIBABLE_EVENT_TYPES, matchesFilter, validateEventFilter } from './event-filter.js';
export { createSafeAgent, BlockedAddressError, type ResolveAll } from './safe-agent.js';
export { DELIVERIES_CHANNEL } from './queue.js';
export { parseDuration, parseSchedule, parseRetryAfter, nextDelay, type RetryPolicy } from './retry-policy.js';
