/**
 * The API resources the console reads, from the SDK's types generated from the OpenAPI document
 * (`npm run sdk:generate`): never written by hand, so an API change breaks `npm run typecheck` here.
 * Type-only: nothing of the SDK is bundled.
 */
import type { BodyOf, components, ItemOf, Link as ApiLink, ResultOf } from '@linkplane/sdk';

export type { Domain, Key, Job, JobError, WebhookEndpoint, WebhookDelivery, LinkStats, WorkspaceStats } from '@linkplane/sdk';

export type Scope = components['schemas']['Key']['scopes'][number];

/** A cursor page of any list operation. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
  total_estimate?: number;
}

/** Routing as the API accepts it (the answer echoes the same object, typed loosely in the document). */
export type Routing = NonNullable<BodyOf<'createLink'>['routing']>;
export type Rule = NonNullable<Routing['rules']>[number];
export type RuleWhen = Rule['when'];
export type Variant = NonNullable<Routing['ab']>[number];

export type Link = Omit<ApiLink, 'routing'> & { routing: Routing | null };

export type AuditEntry = components['schemas']['AuditEntry'];
export type StatsGroup = ResultOf<'getWorkspaceStats'>['groups'][number];
export type SeriesPoint = ResultOf<'getLinkStats'>['series'][number];
export type Attempt = WebhookDeliveryAttempt;
type WebhookDeliveryAttempt = ItemOf<'listWebhookDeliveries'>['attempts'][number];
