/** Writes a webhook event to the event outbox inside the caller's transaction. */
import { newUuidV7, type WebhookEventType } from '../../shared/index.js';
import type { Queryable } from '../db/pool.js';
import { currentTraceparent } from '../tracing/index.js';

export const EVENTS_CHANNEL = 'linkplane_events';

export interface NewEvent {
  workspaceId: string;
  type: WebhookEventType;
  data: unknown;
  occurredAt?: Date;
  /** The trace this event continues; by default the active one (the API request's), null for none. */
  traceparent?: string | null;
}

export async function emitEvents(db: Queryable, events: NewEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  const ids = events.map(() => newUuidV7());
  const ambient = currentTraceparent();
  // the NOTIFY rides in the INSERT's statement: one round trip per write instead of two
  await db.query({
    name: 'events_emit',
    text: `WITH ins AS (
       INSERT INTO events (id, workspace_id, type, occurred_at, data, traceparent)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::text[])
     )
     SELECT pg_notify('${EVENTS_CHANNEL}', '')`,
    values: [
      ids,
      events.map((e) => e.workspaceId),
      events.map((e) => e.type),
      events.map((e) => e.occurredAt ?? new Date()),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => (e.traceparent === undefined ? ambient : e.traceparent)),
    ],
  });
  return ids;
}
