/**
 * Retention: dispatched events older than WEBHOOK_RETENTION_DAYS go, and with them (cascade)
 * their finished deliveries and attempts. An event with a delivery still waiting stays.
 */
import type { Queryable } from '../db/pool.js';

const BATCH = 5000;

export async function purgeWebhookHistory(db: Queryable, retentionDays: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM events WHERE id IN (
         SELECT ev.id FROM events ev
         WHERE ev.created_at < now() - $1::int * interval '1 day' AND ev.dispatched_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id AND d.status IN ('pending', 'failed'))
         LIMIT $2)`,
      [retentionDays, BATCH],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < BATCH) return total;
  }
}
