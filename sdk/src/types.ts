/**
 * Types the client speaks, derived from the generated OpenAPI types (never written by hand):
 * an operation's query, JSON body and success body, and the resources' schemas by name.
 */
import type { components, operations } from './generated/openapi.js';

export type { components, operations, paths } from './generated/openapi.js';

export type OperationId = keyof operations;

/** The query parameters of an operation. */
export type QueryOf<K extends OperationId> = operations[K]['parameters'] extends { query?: infer Q } ? NonNullable<Q> : never;

/** The JSON request body of an operation. */
export type BodyOf<K extends OperationId> =
  operations[K] extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

type Responses<K extends OperationId> = operations[K]['responses'];
type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON body of an operation's success answer (200, 201 or 202). */
export type ResultOf<K extends OperationId> =
  | (200 extends keyof Responses<K> ? JsonOf<Responses<K>[200]> : never)
  | (201 extends keyof Responses<K> ? JsonOf<Responses<K>[201]> : never)
  | (202 extends keyof Responses<K> ? JsonOf<Responses<K>[202]> : never);

/** One item of a cursor-paged list operation. */
export type ItemOf<K extends OperationId> = ResultOf<K> extends { data: (infer T)[] } ? T : never;

export type Link = components['schemas']['Link'];
export type Domain = components['schemas']['Domain'];
export type Key = components['schemas']['Key'];
/** A created key: the secret is in this answer only. */
export type CreatedKey = ResultOf<'createKey'>;
export type Job = ResultOf<'getJob'>;
export type JobStatus = Job['status'];
export type JobOperation = Job['operation'];
export type JobAccepted = ResultOf<'createBulkJob'>;
export type JobError = ItemOf<'listJobErrors'>;
export type WebhookEndpoint = ResultOf<'getWebhookEndpoint'>;
export type WebhookDelivery = ResultOf<'getWebhookDelivery'>;
export type LinkStats = ResultOf<'getLinkStats'>;
export type WorkspaceStats = ResultOf<'getWorkspaceStats'>;
export type Click = ItemOf<'listLinkClicks'>;

export type CreateLinkBody = BodyOf<'createLink'>;
export type UpdateLinkBody = BodyOf<'updateLink'>;
export type ListLinksQuery = QueryOf<'listLinks'>;
